"""`queueopt serve` as a real process on a loopback port: submit, pull, decide over TCP, then SIGTERM while a
moderator long-polls: the poll is answered, the process exits, and the store afterwards holds the decision."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.conftest import PG_URL

from queueopt.store import open_store
from queueopt.store.urls import parse_store_url

REPO = Path(__file__).resolve().parents[2]
QUEUEOPT = Path(sys.executable).parent / "queueopt"
ADMIN, INGEST, MODERATOR = "e2e-admin-token", "e2e-ingest-token", "e2e-moderator-token"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _call(
    base: str, method: str, path: str, token: str | None = None, body: Any = None, *, forwarded: bool = False
) -> tuple[int, Any]:
    request = urllib.request.Request(
        base + path, method=method, data=None if body is None else json.dumps(body).encode()
    )
    request.add_header("Content-Type", "application/json")
    if forwarded:
        request.add_header("X-Queueopt-Forwarded", "1")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        try:
            if _call(base, "GET", "/readyz")[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    raise AssertionError("queueopt serve did not become ready")


def _environment(tmp_path: Path) -> dict[str, str]:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[tokens]]\nrole = "admin"\ntoken = "{ADMIN}"\n[[tokens]]\nrole = "ingest"\ntoken = "{INGEST}"\n'
        f'[[tokens]]\nrole = "moderator"\nmoderator_id = "e2e"\ntoken = "{MODERATOR}"\n',
        encoding="utf-8",
    )
    return os.environ | {
        "QUEUEOPT_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'queueopt.db'}",
        "QUEUEOPT_CONFIG": str(REPO / "examples" / "ops.toml"),
        "QUEUEOPT_TOKENS_FILE": str(tokens),
        "QUEUEOPT_TICK_S": "0.1",
    }


def _serve(env: dict[str, str], cwd: Path, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(QUEUEOPT), "serve", *options], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def test_serve_round_trip_and_graceful_sigterm(tmp_path: Path) -> None:
    env = _environment(tmp_path)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with _serve(env, tmp_path, "--port", str(port), "--log-level", "info") as server:
        try:
            _round_trip(base, server)
            waiting = _long_poll(port)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                _, stderr = server.communicate(timeout=20)
            finally:
                server.kill()
    # uvicorn finishes in-flight requests and the lifespan (assigner stopped, store closed), then re-raises the
    # signal so the process ends "killed by SIGTERM" as supervisors expect.
    assert waiting.getresponse().status == 204, "a long-poll in flight is answered, not cut off, at shutdown"
    waiting.close()
    assert server.returncode == -signal.SIGTERM, stderr.decode()
    assert b"Application shutdown complete." in stderr
    assert b"Traceback" not in stderr
    store = open_store(env["QUEUEOPT_DATABASE_URL"])
    try:
        assert store.items(["e2e-1"])["e2e-1"].status == "decided"
    finally:
        store.close()


def _long_poll(port: int) -> http.client.HTTPConnection:
    """A moderator with nothing to do, waiting up to 30 s: longer than uvicorn's grace period on shutdown."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request("POST", "/v1/moderators/e2e/next?wait_s=30", headers={"Authorization": f"Bearer {MODERATOR}"})
    time.sleep(1.0)  # let the server read the request before the signal; the assertion does not depend on timing
    return connection


def _round_trip(base: str, server: subprocess.Popen[bytes]) -> None:
    _wait_until_up(base, server)
    task = _round_trip_until_leased(base)
    decision = {"lease_token": task["lease_token"], "verdict": "violating", "policy": "hate"}
    assert _call(base, "POST", f"/v1/tasks/{task['task_id']}/decision", MODERATOR, decision)[0] == 200
    status, shown = _call(base, "GET", "/v1/items/e2e-1", INGEST)
    assert status == 200 and shown["verdict"] == "violating"


def _round_trip_until_leased(base: str) -> Any:
    """A moderator's profile, an item for them, and their pull of it: the leased task."""
    profile = {
        "id": "e2e",
        "regions": ["us"],
        "languages": {"en": 1.0},
        "modalities": ["text"],
        "policy_areas": ["hate"],
    }
    assert _call(base, "PUT", "/v1/moderators/e2e", ADMIN, profile)[0] == 200
    item = {"id": "e2e-1", "modality": "text", "language": "en", "region": "us", "signals": {"hate": 0.9}}
    status, submitted = _call(base, "POST", "/v1/items", INGEST, {"items": [item]})
    assert status == 202 and submitted["results"][0]["status"] == "queued"
    status, task = _call(base, "POST", "/v1/moderators/e2e/next?wait_s=5", MODERATOR)
    assert status == 200 and task["item_id"] == "e2e-1"
    return task


def _refusal(env: dict[str, str], cwd: Path) -> str:
    """What `queueopt serve` says when it must not start: one line on stderr, exit 1, no port bound."""
    refused = subprocess.run(
        [str(QUEUEOPT), "serve", "--port", str(_free_port())], env=env, cwd=cwd, capture_output=True, timeout=60
    )
    stderr = refused.stderr.decode()
    assert refused.returncode == 1, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    return stderr


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def replicated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of replicas of one store: a SQLite file, or a PostgreSQL schema of this test's own."""
    env = _environment(tmp_path)
    if request.param == "sqlite":
        yield env
        return
    schema = f"replicas_{uuid.uuid4().hex[:12]}"
    yield env | {"QUEUEOPT_DATABASE_URL": f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"}
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_a_standby_serves_through_the_engine_then_takes_over_after_kill_9(
    replicated: dict[str, str], tmp_path: Path
) -> None:
    """Two engines on one store would each see only their own submissions, so a second plain `serve` is refused; a
    standby answers every request by passing it to the serving engine, and after that engine is killed serves
    what it acknowledged, leases included, from its own engine."""
    env = replicated
    first_port, standby_port = _free_port(), _free_port()
    first_base, standby_base = f"http://127.0.0.1:{first_port}", f"http://127.0.0.1:{standby_port}"
    with _serve(env, tmp_path, "--port", str(first_port)) as first:
        try:
            _wait_until_up(first_base, first)
            assert "another queueopt engine serves this store" in _refusal(env, tmp_path)
            with _serve(env, tmp_path, "--port", str(standby_port), "--standby") as standby:
                try:
                    _wait_until_up(standby_base, standby)
                    leased = _round_trip_until_leased(standby_base)
                    assert _call(first_base, "GET", "/v1/moderators/e2e", ADMIN)[1]["leases"] == [leased["task_id"]]
                    waiting = {"id": "waiting", "modality": "text", "language": "en", "region": "us", "signals": {}}
                    assert _call(standby_base, "POST", "/v1/items", INGEST, {"items": [waiting]})[0] == 202
                    assert _call(standby_base, "GET", "/v1/items/waiting")[0] == 401, "the token is the engine's call"
                    assert _call(standby_base, "GET", "/v1/items/waiting", MODERATOR)[0] == 403
                    status, looped = _call(standby_base, "GET", "/v1/items/waiting", INGEST, forwarded=True)
                    assert status == 503 and "reached a standby twice" in looped["detail"][0]["reason"]
                    first.send_signal(signal.SIGKILL)
                    first.wait(timeout=10)
                    _wait_until_serving(standby_base, standby)
                    status, shown = _call(standby_base, "GET", "/v1/items/waiting", INGEST)
                    assert status == 200 and shown["status"] == "queued"
                    decision = {"lease_token": leased["lease_token"], "verdict": "violating", "policy": "hate"}
                    path = f"/v1/tasks/{leased['task_id']}/decision"
                    assert _call(standby_base, "POST", path, MODERATOR, decision)[0] == 200, (
                        "the lease outlived its engine"
                    )
                finally:
                    standby.send_signal(signal.SIGTERM)
                    _, stderr = standby.communicate(timeout=20)
                assert b"Traceback" not in stderr, stderr.decode()
        finally:
            first.kill()
            first.communicate(timeout=20)
    store = open_store(env["QUEUEOPT_DATABASE_URL"])
    try:
        assert store.serving_address() == standby_base, "the standby announced itself when it took over"
        assert store.items(["e2e-1"])["e2e-1"].status == "decided"
    finally:
        store.close()


def test_an_engine_that_loses_its_store_lock_stops_at_once(replicated: dict[str, str], tmp_path: Path) -> None:
    """Once its lock is gone a standby may take the store over; the old engine ends at once (status 3) rather than
    go on taking submissions the new one would never queue. What it acknowledged is in the store."""
    env = replicated
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with _serve(env, tmp_path, "--port", str(port)) as server:
        try:
            _wait_until_up(base, server)
            item = {"id": "kept", "modality": "text", "language": "en", "region": "us", "signals": {}}
            assert _call(base, "POST", "/v1/items", INGEST, {"items": [item]})[0] == 202
            where = parse_store_url(env["QUEUEOPT_DATABASE_URL"])
            if where.backend == "sqlite":
                Path(where.path + ".lock").unlink()
            else:
                with psycopg.connect(PG_URL, autocommit=True) as operator:
                    ended = operator.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = 'queueopt-engine-lock' AND pid IN "
                        "(SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND objid = %s)",
                        ((zlib.crc32(str(where.schema).encode()) - 2**31) % 2**32,),
                    ).fetchall()
                assert ended == [(True,)]
            _, stderr = server.communicate(timeout=15)
        finally:
            server.kill()
    assert server.returncode == 3, stderr.decode()
    assert stderr.decode().splitlines()[-1].endswith("stopping at once so that one engine serves the store")
    store = open_store(env["QUEUEOPT_DATABASE_URL"])
    try:
        assert store.items(["kept"])["kept"].status == "queued"
    finally:
        store.close()


def _wait_until_serving(base: str, server: subprocess.Popen[bytes]) -> None:
    """Until the process answers from its own engine: a request marked as passed on is then served, not refused."""
    for _ in range(200):
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        if _call(base, "GET", "/v1/items/waiting", INGEST, forwarded=True)[0] == 200:
            return
        time.sleep(0.05)
    raise AssertionError("the standby did not take over")


@pytest.mark.parametrize(
    "database_url",
    [
        "postgresql://postgres@127.0.0.1:1/test",
        "sqlite:///var/q.db?durability=sometimes",
        "sqlite://",
    ],
)
def test_a_store_that_cannot_be_opened_stops_serve_in_one_line(tmp_path: Path, database_url: str) -> None:
    stderr = _refusal(_environment(tmp_path) | {"QUEUEOPT_DATABASE_URL": database_url}, tmp_path)
    assert stderr.startswith("queueopt: database_url: ")


def test_a_second_demo_on_one_folder_leaves_the_running_demo_alone(tmp_path: Path) -> None:
    demo = [
        str(QUEUEOPT),
        "demo-serve",
        "--var",
        str(tmp_path / "var"),
        "--config",
        str(REPO / "examples" / "ops.toml"),
    ]
    port = _free_port()
    with subprocess.Popen([*demo, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as first:
        try:
            _wait_until_up(f"http://127.0.0.1:{port}", first)
            tokens = (tmp_path / "var" / "demo-tokens.toml").read_bytes()
            second = subprocess.run([*demo, "--port", str(_free_port())], capture_output=True, timeout=60)
            assert second.returncode == 1 and b"another queueopt engine serves this store" in second.stderr
            assert (tmp_path / "var" / "demo-tokens.toml").read_bytes() == tokens, "the running demo's tokens changed"
            assert _call(f"http://127.0.0.1:{port}", "GET", "/readyz")[0] == 200
        finally:
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=20)
