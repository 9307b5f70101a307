"""gdpr-erase against real Delta tables (delta-rs on a temporary directory): an id that
would inject into a predicate is refused at the CLI and in the job and deletes nothing,
a valid id deletes exactly its rows, and the predicate quoting is safe for any text."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fitstream.domain.identifiers import InvalidIdentifier
from fitstream.privacy.predicates import delta_equals, delta_string_literal
from fitstream.settings import FitStreamSettings
from stores.delta.tables import (
    BRONZE_DEAD_LETTERS,
    BRONZE_EVENTS,
    GOLD_USER_DAILY,
    SILVER_WORKOUTS,
    USER_FEATURES,
)

USER_TABLES = (BRONZE_EVENTS, SILVER_WORKOUTS, GOLD_USER_DAILY, USER_FEATURES)
# Rows per user in every table keyed by user_id, and in the dead letters (by Kafka key).
ROWS = {"user-a": 3, "user-b": 2, "user-c": 1}
INJECTION = "' OR 1=1 --"


def lakehouse(tmp_path: Path) -> FitStreamSettings:
    settings = FitStreamSettings(state_dir=tmp_path)
    users = [user for user, n in ROWS.items() for _ in range(n)]
    for name in USER_TABLES:
        write_deltalake(settings.lakehouse_uri(name),
                        pa.table({"user_id": users, "n": list(range(len(users)))}))
    write_deltalake(settings.lakehouse_uri(BRONZE_DEAD_LETTERS),
                    pa.table({"key": [u.encode() for u in users],
                              "reason": ["late"] * len(users)}))
    return settings


def rows_per_user(settings: FitStreamSettings) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for name in (*USER_TABLES, BRONZE_DEAD_LETTERS):
        table = DeltaTable(settings.lakehouse_uri(name)).to_pyarrow_table()
        column = "key" if name == BRONZE_DEAD_LETTERS else "user_id"
        users = [u.decode() if isinstance(u, bytes) else u
                 for u in table.column(column).to_pylist()]
        counts[name] = {user: users.count(user) for user in sorted(set(users))}
    return counts


EVERYONE = {name: ROWS for name in (*USER_TABLES, BRONZE_DEAD_LETTERS)}


@pytest.mark.parametrize("user_id", [INJECTION, "O'Brien"])
def test_an_id_that_is_not_an_id_is_refused_by_the_job_and_deletes_nothing(tmp_path, user_id):
    from stores.erasure import erase_from_delta

    settings = lakehouse(tmp_path)
    with pytest.raises(InvalidIdentifier, match=r"user_id .* is not a valid id"):
        erase_from_delta(settings, user_id)
    assert rows_per_user(settings) == EVERYONE


@pytest.mark.parametrize("user_id", [INJECTION, "O'Brien"])
def test_the_cli_refuses_an_invalid_user_id_with_a_clear_error(tmp_path, monkeypatch, user_id):
    from cli.main import app

    settings = lakehouse(tmp_path)
    monkeypatch.setenv("FITSTREAM_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["jobs", "gdpr-erase", "--user", user_id, "--yes"])
    assert result.exit_code == 2, result.output
    assert "is not a valid id" in result.output
    assert rows_per_user(settings) == EVERYONE


def test_a_valid_id_deletes_exactly_that_users_rows(tmp_path):
    from stores.erasure import erase_from_delta

    settings = lakehouse(tmp_path)
    deleted = erase_from_delta(settings, "user-b")
    assert deleted == {name: 2 for name in (BRONZE_EVENTS, BRONZE_DEAD_LETTERS,
                                            SILVER_WORKOUTS, GOLD_USER_DAILY, USER_FEATURES)}
    others = {"user-a": 3, "user-c": 1}
    assert rows_per_user(settings) == {name: others for name in EVERYONE}


# Any text but surrogates (Arrow strings are UTF-8) and NUL (refused, tested below).
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"),
               max_size=20)


@hypothesis_settings(max_examples=40, deadline=None)
@given(value=TEXT)
@example(value=INJECTION)
@example(value="O'Brien")
@example(value="\\")
@example(value="\\'")
@example(value="'' OR ''='")
@example(value="a' /* ")
def test_a_quoted_literal_matches_exactly_its_own_value(tmp_path_factory, value):
    """A delete with the quoted value removes the one row holding that value, whatever
    quotes, backslashes or comment markers it contains, and no other row."""
    path = str(tmp_path_factory.mktemp("literal"))
    others = ["user-a", "x", "", "'", "\\"]
    values = [value, *(v for v in others if v != value)]
    write_deltalake(path, pa.table({"user_id": values}))
    assert DeltaTable(path).delete(delta_equals("user_id", value))["num_deleted_rows"] == 1
    assert sorted(DeltaTable(path).to_pyarrow_table().column("user_id").to_pylist()) == sorted(
        values[1:])


def test_the_quoting_function_refuses_what_it_cannot_quote():
    assert delta_string_literal("O'Brien") == "'O''Brien'"
    with pytest.raises(ValueError, match="NUL"):
        delta_string_literal("a\0b")
    with pytest.raises(TypeError):
        delta_string_literal(1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="plain column"):
        delta_equals("user_id = user_id OR user_id", "a")


def test_the_erase_deletes_the_data_key_so_sealed_fields_read_as_erased(tmp_path):
    from fitstream.privacy.fields import ERASED, FieldCipher
    from fitstream.privacy.keys import key_store
    from jobs.gdpr_erase import erase_data_key

    settings = FitStreamSettings(state_dir=tmp_path)
    cipher = FieldCipher(key_store(settings))
    sealed = cipher.seal("user-a", "email", "runner@example.org")
    kept = cipher.seal("user-b", "email", "other@example.org")
    with pytest.raises(InvalidIdentifier):
        erase_data_key(settings, INJECTION)
    assert erase_data_key(settings, "user-a") is True
    assert erase_data_key(settings, "user-a") is False
    fresh = FieldCipher(key_store(settings))  # another process: no cached key
    assert fresh.open("user-a", "email", sealed) is ERASED
    # The process that ran the erase (the API's, in the embedded default) cached the key
    # when it sealed: the erase evicts it there too.
    assert cipher.open("user-a", "email", sealed) is ERASED
    assert cipher.open("user-b", "email", kept) == "other@example.org"
    assert fresh.open("user-b", "email", kept) == "other@example.org"


def test_an_orphan_file_of_a_crashed_sink_write_is_deleted_if_it_holds_the_user(tmp_path):
    """A sink SIGKILLed between writing a Parquet file and committing it leaves a file no
    version references, which VACUUM keeps (seen in the lakehouse test: an erased user's
    features row in one). Old orphans holding the user go; the table's own files, orphans
    of others, and files young enough to be a live sink's write about to commit stay."""
    import os
    import time

    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import DeltaTable, write_deltalake

    from stores.erasure import ORPHAN_GRACE_S, _delete_orphans_holding

    write_deltalake(str(tmp_path), pa.table({"user_id": ["u-1", "u-2"]}))
    old = time.time() - ORPHAN_GRACE_S - 5
    for name, users in (("mine.parquet", ["u-1"]), ("theirs.parquet", ["u-2"])):
        pq.write_table(pa.table({"user_id": users}), tmp_path / name)
        os.utime(tmp_path / name, (old, old))
    pq.write_table(pa.table({"user_id": ["u-1"]}), tmp_path / "young.parquet")
    referenced = DeltaTable(str(tmp_path)).file_uris()
    assert _delete_orphans_holding(str(tmp_path), referenced, "u-1") == [
        tmp_path / "mine.parquet"]
    assert sorted(p.name for p in tmp_path.glob("*.parquet") if "part-" not in p.name) == [
        "theirs.parquet", "young.parquet"]
    assert len(DeltaTable(str(tmp_path)).to_pyarrow_table()) == 2
