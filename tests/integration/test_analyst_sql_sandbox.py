"""Analyst SQL reads the FitStream views and nothing else (review of issue 9, finding 9).

``readonly=1`` let ``SELECT file('/proc/self/environ')`` return the API process's
environment on chdb, and ``system.tables`` and a second statement ran too. The real app
on embedded chdb, no broker (nothing here reaches the log)."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from fitstream.contracts import AvroSerde, registry_from_settings
from fitstream.settings import FitStreamSettings
from fitstream.tokens import issue_analyst_token
from stores.clickhouse.store import open_store
from stores.clickhouse.tables import apply_ddl

SQL = "/api/v1/analytics/sql"
ANALYTICS = Path(__file__).resolve().parents[2] / "docs" / "analytics.md"


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    # The statements go one after another as fast as the store answers, far past an
    # analyst's rate limit (which tests/integration/test_rate_limits.py covers).
    settings = FitStreamSettings(state_dir=tmp_path_factory.mktemp("sandbox"),
                                 rate_limits={"user": "", "anonymous": ""})
    store = open_store(settings)
    apply_ddl(store)
    client = TestClient(create_app(settings, AvroSerde(registry_from_settings(
        settings.schema_registry)), store, None))
    token = issue_analyst_token(settings.api.token_secret.get_secret_value(), "test", 600)
    yield lambda sql: client.post(SQL, json={"sql": sql},
                                  headers={"Authorization": f"Bearer {token}"})
    store.close()


@pytest.fixture
def http_server():
    """A loopback HTTP server that records every request it gets."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"secret-from-the-network\n")

        def log_message(self, *_args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], requests
    server.shutdown()
    thread.join(10)


def refused(message: str) -> dict:
    return {"error": "sql_refused", "message": message, "code": 400, "details": None}


def test_the_file_function_cannot_read_the_api_process_files(api, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("topsecret\n")
    for sql in ("SELECT * FROM file('/proc/self/environ', 'RawBLOB')",
                f"SELECT * FROM file('{secret}', 'RawBLOB')"):
        response = api(sql)
        assert (response.status_code, response.json()) == (
            400, refused("table function file() is not allowed"))
    # The scalar file() is not stopped by readonly=1: before this check it returned
    # the file's content with 200.
    for sql in (f"SELECT file('{secret}')", "SELECT file('/proc/self/environ') AS e",
                f"SELECT count() FROM fitstream.workout_summary WHERE user_id = file('{secret}')"):
        response = api(sql)
        assert (response.status_code, response.json()) == (
            400, refused("function file() is not allowed")), sql
        assert "topsecret" not in response.text


def test_the_url_function_cannot_reach_the_network(api, http_server):
    port, requests = http_server
    response = api(f"SELECT * FROM url('http://127.0.0.1:{port}/', 'RawBLOB')")
    assert (response.status_code, response.json()) == (
        400, refused("table function url() is not allowed"))
    response = api(f"SELECT * FROM fitstream.workout_summary AS w, "
                   f"(SELECT * FROM url('http://127.0.0.1:{port}/x', 'RawBLOB')) AS u")
    assert (response.status_code, response.json()) == (
        400, refused("table function url() is not allowed"))
    assert requests == []


@pytest.mark.parametrize(("sql", "message"), [
    ("SELECT * FROM s3('http://127.0.0.1:1/bucket/key.csv', 'CSV')",
     "table function s3() is not allowed"),
    ("SELECT * FROM remote('127.0.0.1:1', system.one)", "table function remote() is not allowed"),
    ("SELECT * FROM executable('x.sh', 'TSV', 'a String')",
     "table function executable() is not allowed"),
    ("SELECT * FROM python(x)", "table function python() is not allowed"),
    ("SELECT * FROM merge('system', '^one$')", "table function merge() is not allowed"),
    ("SELECT name FROM system.tables", "table system.tables is outside the FitStream views"),
    ("SELECT 1 FROM fitstream.workout_summary WHERE user_id IN system.users",
     "table system.users is outside the FitStream views"),
    ("SELECT dictGet('d', 'a', 1)", "function dictGet() is not allowed"),
    ("SELECT 1; SELECT file('/etc/hostname')", "only one statement may run"),
    ("SHOW TABLES FROM system", "only one SELECT statement may run"),
    ("INSERT INTO fitstream.notification_reads (user_id) VALUES ('x')",
     "only one SELECT statement may run"),
])
def test_statements_outside_the_views_are_refused(api, sql, message):
    response = api(sql)
    assert (response.status_code, response.json()) == (400, refused(message))


def test_the_documented_analyst_queries_and_the_generators_still_run(api):
    queries = re.findall(r"```sql\n(.*?)```", ANALYTICS.read_text(), flags=re.DOTALL)
    assert len(queries) == 10
    for sql in queries:
        response = api(sql)
        assert response.status_code == 200, (sql, response.text)
        assert response.json()["rows"] == []  # an empty store
    for sql, rows in (("SELECT number FROM system.numbers LIMIT 2", [[0], [1]]),
                      ("SELECT * FROM numbers(2)", [[0], [1]]),
                      ("WITH c AS (SELECT 7 AS a) SELECT a FROM c", [[7]]),
                      ("SELECT count() FROM workout_summary", [[0]]),
                      ("SELECT * FROM system.one", [[0]])):
        response = api(sql)
        assert (response.status_code, response.json()["rows"]) == (200, rows), sql


@pytest.mark.parametrize("sql", [
    "SELECT (SELECT count() FROM url('http://127.0.0.1:1/', 'RawBLOB'))",
    "SELECT * FROM view(SELECT * FROM system.tables)",
    "SELECT * FROM loop(system.tables) LIMIT 1",
    "SELECT 1 FROM fitstream.workout_summary ANY LEFT JOIN system.users USING (user_id)",
    "WITH c AS (SELECT name FROM system.tables) SELECT * FROM c",
    "SELECT FILE('/etc/hostname')",
])
def test_reads_outside_hidden_in_subqueries_are_refused(api, sql):
    response = api(sql)
    assert (response.status_code, response.json()["error"]) == (400, "sql_refused"), (
        response.text)
