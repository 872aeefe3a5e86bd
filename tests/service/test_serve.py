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
from pathlib import Path
from typing import Any

from queueopt.store import open_store

REPO = Path(__file__).resolve().parents[2]
QUEUEOPT = Path(sys.executable).parent / "queueopt"
ADMIN, INGEST, MODERATOR = "e2e-admin-token", "e2e-ingest-token", "e2e-moderator-token"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _call(base: str, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        base + path, method=method, data=None if body is None else json.dumps(body).encode()
    )
    request.add_header("Content-Type", "application/json")
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


def test_serve_round_trip_and_graceful_sigterm(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[tokens]]\nrole = "admin"\ntoken = "{ADMIN}"\n[[tokens]]\nrole = "ingest"\ntoken = "{INGEST}"\n'
        f'[[tokens]]\nrole = "moderator"\nmoderator_id = "e2e"\ntoken = "{MODERATOR}"\n',
        encoding="utf-8",
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "QUEUEOPT_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'queueopt.db'}",
        "QUEUEOPT_CONFIG": str(REPO / "examples" / "ops.toml"),
        "QUEUEOPT_TOKENS_FILE": str(tokens),
        "QUEUEOPT_TICK_S": "0.1",
    }
    with subprocess.Popen(
        [str(QUEUEOPT), "serve", "--port", str(port), "--log-level", "info"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as server:
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
    decision = {"lease_token": task["lease_token"], "verdict": "violating", "policy": "hate"}
    assert _call(base, "POST", f"/v1/tasks/{task['task_id']}/decision", MODERATOR, decision)[0] == 200
    status, shown = _call(base, "GET", "/v1/items/e2e-1", INGEST)
    assert status == 200 and shown["verdict"] == "violating"
