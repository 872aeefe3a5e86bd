"""Helpers for tests that run `queueopt serve` as real processes on loopback ports and talk to them over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.waits import wait_until

REPO = Path(__file__).resolve().parents[2]
QUEUEOPT = Path(sys.executable).parent / "queueopt"
ADMIN, INGEST, MODERATOR = "e2e-admin-token", "e2e-ingest-token", "e2e-moderator-token"
E2E_PROFILE = {
    "id": "e2e",
    "regions": ["us"],
    "languages": {"en": 1.0},
    "modalities": ["text"],
    "policy_areas": ["hate"],
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def call(
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


READY_WITHIN_S = 60.0
"""How long a process may take to serve: a few seconds on an idle machine, most of it importing numpy, scipy, OR-Tools
and FastAPI, several times that on a loaded 2-core one (four replica tests ran out of a count of 200 tries, about 10 s,
at a load of 7.6)."""


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    def ready() -> bool:
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        try:
            return call(base, "GET", "/readyz")[0] == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    wait_until(ready, f"queueopt serve did not become ready within {READY_WITHIN_S:.0f} s", READY_WITHIN_S)


def environment(tmp_path: Path) -> dict[str, str]:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text(
        f'[[tokens]]\nrole = "admin"\ntoken = "{ADMIN}"\n[[tokens]]\nrole = "ingest"\ntoken = "{INGEST}"\n'
        f'[[tokens]]\nrole = "moderator"\nmoderator_id = "e2e"\ntoken = "{MODERATOR}"\n',
        encoding="utf-8",
    )
    return os.environ | {
        # This tree's code, whatever the installed package or a relative PYTHONPATH would give the process.
        "PYTHONPATH": str(REPO / "src"),
        "QUEUEOPT_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'queueopt.db'}",
        "QUEUEOPT_CONFIG": str(REPO / "examples" / "ops.toml"),
        "QUEUEOPT_TOKENS_FILE": str(tokens),
        "QUEUEOPT_TICK_S": "0.1",
    }


def serve(env: dict[str, str], cwd: Path, *options: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(QUEUEOPT), "serve", *options], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def round_trip_until_leased(base: str) -> Any:
    """A moderator's profile, an item for them, and their pull of it: the leased task."""
    assert call(base, "PUT", "/v1/moderators/e2e", ADMIN, E2E_PROFILE)[0] == 200
    item = {"id": "e2e-1", "modality": "text", "language": "en", "region": "us", "signals": {"hate": 0.9}}
    status, submitted = call(base, "POST", "/v1/items", INGEST, {"items": [item]})
    assert status == 202 and submitted["results"][0]["status"] == "queued"
    status, task = call(base, "POST", "/v1/moderators/e2e/next?wait_s=5", MODERATOR)
    assert status == 200 and task["item_id"] == "e2e-1"
    return task


def refusal(env: dict[str, str], cwd: Path) -> str:
    """What `queueopt serve` says when it must not start: one line on stderr, exit 1, no port bound."""
    refused = subprocess.run(
        [str(QUEUEOPT), "serve", "--port", str(free_port())], env=env, cwd=cwd, capture_output=True, timeout=60
    )
    stderr = refused.stderr.decode()
    assert refused.returncode == 1, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    return stderr


def wait_until_serving(base: str, server: subprocess.Popen[bytes]) -> None:
    """Until the process answers from its own engine: a request marked as passed on is then served, not refused."""

    def serving() -> bool:
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        return call(base, "GET", "/v1/queues", ADMIN, forwarded=True)[0] == 200

    wait_until(serving, f"the standby did not take over within {READY_WITHIN_S:.0f} s", READY_WITHIN_S)
