"""The API against its own OpenAPI document (issue 9, finding 16), with schemathesis.

A bounded run (MAX_EXAMPLES per operation, no deadline) against the real app: embedded
chdb, the real broker behind the commands (preferences, read marks, ingest) and the
device revocations it follows. Every request carries a valid token of the kind the
operation wants (user, device, analyst). Every check schemathesis has runs, beyond "no
5xx": status codes, content types, headers and bodies must be the documented ones.
"""

from __future__ import annotations

import contextlib
import json
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.app import create_app
from api.event_publisher import EventPublisher
from api.revocations import RevocationFollower, Revocations
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.tokens import TokenKeys, issue_analyst_token, issue_device_token, issue_user_token
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import apply_ddl
from tests.conftest import isolated

pytestmark = pytest.mark.e2e

# Per operation: enough to find the contract gaps issue 9 lists, few enough that ingest
# and the commands produce only a few hundred small records to the broker.
MAX_EXAMPLES = 25
USER = "user-1"
DEVICE = "watch-1"


@pytest.fixture(scope="module")
def real_app(broker, tmp_path_factory):
    base = isolated(broker, tmp_path_factory.mktemp("schema"), "schema")
    # Small enough that a generated batch reaches the 413s, not megabytes of events.
    settings = base.model_copy(update={"api": base.api.model_copy(update={
        "ingest_max_events": 20, "ingest_max_bytes": 64 * 1024,
        "analyst_sql_max_execution_time_s": 2, "analyst_sql_max_result_rows": 10_000}),
        # Generated requests come by the hundred per second, and the negative ones with
        # bad tokens: with the limits on, most answers would be the (documented) 429.
        "rate_limits": base.rate_limits.model_copy(update={
            "device": "", "user": "", "failed_auth": ""})})
    store = open_store(settings)
    apply_ddl(store)
    publisher = EventPublisher(settings)
    publisher.start()
    revocations = Revocations()
    follower = RevocationFollower(settings, revocations)
    follower.start()
    deadline = time.monotonic() + 60
    while not revocations.loaded.wait(0.2):
        assert time.monotonic() < deadline, "the revocation topic was not read within 60 s"
    app = create_app(settings, AvroSerde(registry_from_settings(settings.schema_registry)),
                     store, publisher, revocations)
    keys = TokenKeys.from_settings(settings.api)
    tokens = {"userToken": issue_user_token(keys, USER, 3600),
              "deviceToken": issue_device_token(keys, USER, DEVICE, 3600),
              "analystToken": issue_analyst_token(keys, "schemathesis", 3600)}
    yield app, tokens
    follower.stop()
    publisher.close()
    store.close()


def token_for(operation: dict, tokens: dict[str, str]) -> str:
    """The token of the scheme the operation declares; a user token for public reads
    (which must ignore it) and for the admin erase (refused with 401: the run must not
    erase users)."""
    for requirement in operation.get("security", []):
        for scheme in requirement:
            return tokens.get(scheme, tokens["userToken"])
    return tokens["userToken"]


# Where a schema-valid request may still be refused with 400, because the rule is not
# one a JSON schema can state; for these (and only these) requests positive_data_acceptance
# is replaced by a stricter check of our own: the 400 must name that rule.
SEMANTIC_400 = {
    # The statement must parse and run, and read only the FitStream views.
    "POST /api/v1/analytics/sql": ("sql_failed", "sql_refused"),
    "GET /api/v1/leaderboards/{metric}": "invalid_period",  # the period of *that* window
    "GET /api/v1/users/{user_id}/stats": "invalid_period",  # the same rule
    # Bounds against the server's clock and between fields (start_time vs occurred_at).
    "POST /api/v1/ingest/events": "invalid_events",
    # A date-time JSON Schema accepts that Python cannot represent (year 0, second 60).
    "GET /api/v1/users/{user_id}/workouts": "invalid_time",
    "GET /api/v1/users/{user_id}/workouts/private": "invalid_time",
}
# 413 is a refusal too: a generated body over the cap (api.max_body_bytes) is refused
# before it is parsed, and the 413 is documented on every operation with a body.
CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]}}})
# A cursor is opaque: only the ones this API issued are valid (400 invalid_cursor).
CURSOR_400 = "invalid_cursor"
# An uploaded file's content is no rule a schema can state: a schema-valid upload may
# still be refused for its format, integrity, track or inflated size, and then only
# with these errors (api/uploads.py).
CONTENT_REFUSALS = {"POST /api/v1/uploads": {
    413: ("payload_too_large", "file_too_large"), 415: ("unsupported_format",),
    422: ("corrupt_file", "invalid_track", "too_late")}}


def content_refusal(expected: dict[int, tuple[str, ...]]):
    def check(ctx, response, case) -> bool | None:
        if response.status_code in expected:
            assert response.json()["error"] in expected[response.status_code], (
                f"{response.status_code} {response.json()['error']}, not one of "
                f"{expected[response.status_code]}")
        else:
            positive_data_acceptance(ctx, response, case)
        return None
    return check


def semantic_refusal(*expected_errors: str):
    def check(ctx, response, case) -> bool | None:
        if response.status_code == 400:
            assert response.json()["error"] in expected_errors, (
                f"400 {response.json()['error']}, not the semantic {expected_errors}")
        return None
    return check


def contract_failures(operation, mode: GenerationMode, token: str,
                      **fixed: dict) -> list[str]:
    """What schemathesis found on one operation in one generation mode (every check)."""
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    def run(case) -> None:
        expected = SEMANTIC_400.get(operation.label, ())
        semantic = [expected] if isinstance(expected, str) else list(expected)
        if "cursor" in (case.query or {}):
            semantic.append(CURSOR_400)
        options = {} if not semantic or not mode.is_positive else {
            "excluded_checks": [positive_data_acceptance],
            "additional_checks": [semantic_refusal(*semantic)]}
        if operation.label in CONTENT_REFUSALS and mode.is_positive:
            options = {"excluded_checks": [positive_data_acceptance],
                       "additional_checks": [content_refusal(CONTENT_REFUSALS[operation.label])]}
        # Our valid token, except where a negative case's mutation *is* its Authorization
        # header (replacing it would turn the case into a valid request).
        mutated_auth = not mode.is_positive and "Authorization" in (case.headers or {})
        headers = None if mutated_auth else {"Authorization": f"Bearer {token}"}
        try:
            case.call_and_validate(headers=headers, **options)
        except (FailureGroup, AssertionError) as exc:
            for failure in getattr(exc, "exceptions", [exc]):
                failures.append(f"{type(failure).__name__}: {getattr(failure, 'title', '')}"
                                f" ({case.path_parameters} {case.query} {str(case.body)[:200]})"
                                f" {str(failure)[:300]}")

    with contextlib.suppress(Unsatisfiable):  # nothing to generate, e.g. negative /metrics
        run()
    return sorted(set(failures))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_its_contract(real_app, mode):
    app, tokens = real_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    found = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        token = token_for(operation.definition.raw, tokens)
        failures = contract_failures(operation, mode, token)
        if mode.is_positive and "{user_id}" in operation.path:
            # Random user ids meet a 403; the owner's own requests reach the handlers.
            failures += contract_failures(operation, mode, token,
                                          path_parameters={"user_id": USER})
        if failures:
            found[operation.label] = failures
    assert operations >= 12
    assert found == {}, json.dumps(found, indent=1)
