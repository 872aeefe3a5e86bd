"""`queueopt serve` as a real process on a loopback port: submit, pull, decide over TCP, then SIGTERM while a
moderator long-polls: the poll is answered, the process exits, and the store afterwards holds the decision."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from tests.service.processes import (
    INGEST,
    MODERATOR,
    QUEUEOPT,
    REPO,
    call,
    environment,
    free_port,
    refusal,
    round_trip_until_leased,
    serve,
    wait_until_up,
)

from queueopt.clock import SystemClock
from queueopt.config import load_config
from queueopt.domain import Item
from queueopt.engine import Engine
from queueopt.service.commands import _check_store
from queueopt.service.settings import Settings
from queueopt.store import open_store, sql


def test_serve_round_trip_and_graceful_sigterm(tmp_path: Path) -> None:
    env = environment(tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve(env, tmp_path, "--port", str(port), "--log-level", "info") as server:
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
    wait_until_up(base, server)
    task = round_trip_until_leased(base)
    decision = {"lease_token": task["lease_token"], "verdict": "violating", "policy": "hate"}
    assert call(base, "POST", f"/v1/tasks/{task['task_id']}/decision", MODERATOR, decision)[0] == 200
    status, shown = call(base, "GET", "/v1/items/e2e-1", INGEST)
    assert status == 200 and shown["verdict"] == "violating"


@pytest.mark.parametrize(
    "database_url",
    [
        "postgresql://postgres@127.0.0.1:1/test",
        "sqlite:///var/q.db?durability=sometimes",
        "sqlite://",
    ],
)
def test_a_store_that_cannot_be_opened_stops_serve_in_one_line(tmp_path: Path, database_url: str) -> None:
    stderr = refusal(environment(tmp_path) | {"QUEUEOPT_DATABASE_URL": database_url}, tmp_path)
    assert stderr.startswith("queueopt: database_url: ")


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        ({"QUEUEOPT_TICKS": "5"}, "settings: QUEUEOPT_TICKS: not a setting (the settings are QUEUEOPT_DATABASE_URL"),
        ({"QUEUEOPT_ROSTER_FILE": ""}, "settings: roster_file: empty: name a file"),
        ({"QUEUEOPT_TICK_S": "nan"}, "settings: tick_s: Input should be a finite number"),
        ({"QUEUEOPT_RETENTION_DAYS": "0"}, "settings: retention_days: Input should be greater than 0"),
        ({"QUEUEOPT_RETENTION_DAYS": "a week"}, "settings: retention_days: Input should be a valid number"),
    ],
)
def test_a_misspelt_or_empty_setting_stops_serve_in_one_line(
    tmp_path: Path, variables: dict[str, str], said: str
) -> None:
    """Found by a probe: a misspelt variable was ignored (serving on the default it meant to change), an empty path
    was read as the working directory, and NaN was said to be out of range."""
    assert refusal(environment(tmp_path) | variables, tmp_path).startswith(said)


def test_a_port_in_use_stops_serve_and_demo_serve_in_one_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        for command in (
            [str(QUEUEOPT), "serve", "--port", port],
            [
                str(QUEUEOPT),
                "demo-serve",
                "--port",
                port,
                "--var",
                str(tmp_path / "var"),
                "--config",
                str(REPO / "examples" / "ops.toml"),
            ],
        ):
            refused = subprocess.run(command, env=environment(tmp_path), cwd=tmp_path, capture_output=True, timeout=60)
            assert refused.returncode == 1 and refused.stdout == b""
            assert (
                refused.stderr.decode()
                == f"queueopt: port: cannot listen on 127.0.0.1:{port}: Address already in use\n"
            )
    assert not (tmp_path / "var" / "demo-tokens.toml").exists()  # the demo wrote no tokens it could not serve


def test_a_second_demo_on_one_folder_leaves_the_running_demo_alone(tmp_path: Path) -> None:
    demo = [
        str(QUEUEOPT),
        "demo-serve",
        "--var",
        str(tmp_path / "var"),
        "--config",
        str(REPO / "examples" / "ops.toml"),
    ]
    port = free_port()
    with subprocess.Popen([*demo, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as first:
        try:
            wait_until_up(f"http://127.0.0.1:{port}", first)
            tokens = (tmp_path / "var" / "demo-tokens.toml").read_bytes()
            second = subprocess.run([*demo, "--port", str(free_port())], capture_output=True, timeout=60)
            assert second.returncode == 1 and b"another queueopt engine serves this store" in second.stderr
            assert (tmp_path / "var" / "demo-tokens.toml").read_bytes() == tokens, "the running demo's tokens changed"
            assert call(f"http://127.0.0.1:{port}", "GET", "/readyz")[0] == 200
        finally:
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=20)


def test_a_store_with_open_tasks_in_a_queue_the_config_lacks_stops_serve_in_one_line(tmp_path: Path) -> None:
    env = environment(tmp_path)
    config = REPO / "examples" / "ops.toml"
    store = open_store(env["QUEUEOPT_DATABASE_URL"])
    audio = {"modality": "audio", "language": "en", "region": "us", "signals": {"harassment": 0.7}}
    Engine(store, SystemClock(), load_config(config)).submit([Item(id="au1", **audio)])
    store.close()
    renamed = tmp_path / "renamed.toml"
    text = config.read_text(encoding="utf-8")
    renamed.write_text(
        text.replace('name = "audio"\nsla_s', 'name = "audio2"\nsla_s').replace('queue = "audio"', 'queue = "audio2"')
    )
    for standby in ("false", "true"):
        stderr = refusal(env | {"QUEUEOPT_CONFIG": str(renamed), "QUEUEOPT_STANDBY": standby}, tmp_path)
        assert stderr.startswith(
            f"{renamed}: queues: the store has open tasks in queues this config does not have: 'audio' (1 open task);"
        )


@pytest.mark.parametrize("holding", [True, False])
def test_the_check_before_serving_beats_while_it_reads_only_for_the_lock_holder(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, holding: bool
) -> None:
    """The twin of the engine's rebuild (found reviewing the fix for a probe's finding): the read of every open task
    before serving, under the lock, went without a beat, so a standby could judge a restarted holder of a large
    backlog hung before its engine began. A standby's own read must never beat: it would vouch for the engine it
    waits on. A page of 2 here, where the real one is `RECOVERY_PAGE`."""
    engine = Engine(open_store(settings.database_url), SystemClock(), load_config(settings.config))
    engine.submit([Item(id=f"i{index}", modality="text", language="en", region="us") for index in range(5)])
    engine.close()
    beats: list[float] = []
    monkeypatch.setattr(sql, "RECOVERY_PAGE", 2)
    monkeypatch.setattr(sql.SqlStore, "beat_serving", lambda self: beats.append(time.time()))
    _check_store(settings, holding=holding)
    assert len(beats) == (3 if holding else 0)
