"""Replicas of one store as real processes: one serves with its engine, standbys pass requests to it and take over
when it stops; an engine that loses the store stops, and nothing it acknowledged is missing from its successor."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import psycopg
import pytest
from tests.conftest import PG_URL
from tests.service.processes import (
    ADMIN,
    E2E_PROFILE,
    INGEST,
    MODERATOR,
    call,
    environment,
    free_port,
    refusal,
    round_trip_until_leased,
    serve,
    wait_until_serving,
    wait_until_up,
)
from tests.waits import wait_until

from queueopt.store import open_store
from queueopt.store.urls import parse_store_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def replicated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of replicas of one store: a SQLite file, or a PostgreSQL schema of this test's own."""
    env = environment(tmp_path)
    if request.param == "sqlite":
        yield env
        return
    schema = f"replicas_{uuid.uuid4().hex[:12]}"
    yield env | {"QUEUEOPT_DATABASE_URL": f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}"}
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


Process = subprocess.Popen[bytes]


@contextmanager
def _serving_and_standby(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Process, Process, str, str]]:
    """A serving engine and a standby beside it on the store of `env`, both up, with their base URLs. The standby is
    stopped with SIGTERM and must log no traceback; the engine is killed if it still runs."""
    first_port, standby_port = free_port(), free_port()
    first_base, standby_base = f"http://127.0.0.1:{first_port}", f"http://127.0.0.1:{standby_port}"
    with serve(env, tmp_path, "--port", str(first_port)) as first:
        try:
            wait_until_up(first_base, first)
            with serve(env, tmp_path, "--port", str(standby_port), "--standby") as standby:
                try:
                    wait_until_up(standby_base, standby)
                    yield first, standby, first_base, standby_base
                finally:
                    standby.send_signal(signal.SIGTERM)
                    _, stderr = standby.communicate(timeout=20)
                assert b"Traceback" not in stderr, stderr.decode()
        finally:
            first.kill()
            first.communicate(timeout=20)


def _kill_9(first: Process, standby: Process, standby_base: str) -> None:
    """Kill the serving engine and wait until the standby serves from its own."""
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    wait_until_serving(standby_base, standby)


def test_a_standby_serves_through_the_engine_then_takes_over_after_kill_9(
    replicated: dict[str, str], tmp_path: Path
) -> None:
    """Two engines on one store would each see only their own submissions, so a second plain `serve` is refused; a
    standby answers every request by passing it to the serving engine, and after that engine is killed serves
    what it acknowledged, leases included, from its own engine."""
    env = replicated
    with _serving_and_standby(env, tmp_path) as (first, standby, first_base, standby_base):
        assert "another queueopt engine serves this store" in refusal(env, tmp_path)
        leased = round_trip_until_leased(standby_base)
        assert call(first_base, "GET", "/v1/moderators/e2e", ADMIN)[1]["leases"] == [leased["task_id"]]
        waiting = {"id": "waiting", "modality": "text", "language": "en", "region": "us", "signals": {}}
        assert call(standby_base, "POST", "/v1/items", INGEST, {"items": [waiting]})[0] == 202
        assert call(standby_base, "GET", "/v1/items/waiting")[0] == 401, "the token is the engine's call"
        assert call(standby_base, "GET", "/v1/items/waiting", MODERATOR)[0] == 403
        status, looped = call(standby_base, "GET", "/v1/items/waiting", INGEST, forwarded=True)
        assert status == 503 and looped["detail"][0]["reason"] == (
            "standby: the request reached a standby twice; the serving engine is changing; the request was not "
            "applied; retry"
        )
        _kill_9(first, standby, standby_base)
        status, shown = call(standby_base, "GET", "/v1/items/waiting", INGEST)
        assert status == 200 and shown["status"] == "queued"
        decision = {"lease_token": leased["lease_token"], "verdict": "violating", "policy": "hate"}
        path = f"/v1/tasks/{leased['task_id']}/decision"
        assert call(standby_base, "POST", path, MODERATOR, decision)[0] == 200, "the lease outlived its engine"
    store = open_store(env["QUEUEOPT_DATABASE_URL"])
    try:
        assert store.serving_address() == standby_base, "the standby announced itself when it took over"
        assert store.items(["e2e-1"])["e2e-1"].status == "decided"
    finally:
        store.close()


def test_a_standby_that_took_over_stops_at_once_when_it_loses_the_lock(
    replicated: dict[str, str], tmp_path: Path
) -> None:
    """Once it serves, a former standby is an engine like the first: should its lock go while it lives, another
    standby may take the store over, so it stops at once (status 3) as the first would, or two engines would
    serve one store."""
    env = replicated
    with _serving_and_standby(env, tmp_path) as (first, standby, _, standby_base):
        _kill_9(first, standby, standby_base)
        _break_lock(env["QUEUEOPT_DATABASE_URL"])
        assert standby.wait(timeout=15) == 3


def test_a_release_retried_through_a_standby_is_answered_as_the_first_time_before_and_after_a_take_over(
    replicated: dict[str, str], tmp_path: Path
) -> None:
    """A review tool whose release timed out sends it again, to any replica: the standby passes it to the serving
    engine, which answers as the first time; after a `kill -9` the standby's own engine, rebuilt from the store, does
    too, and the release is audited once."""
    env = replicated
    with _serving_and_standby(env, tmp_path) as (first, standby, _, standby_base):
        leased = round_trip_until_leased(standby_base)
        path, body = f"/v1/tasks/{leased['task_id']}/release", {"lease_token": leased["lease_token"]}
        status, released = call(standby_base, "POST", path, MODERATOR, body)
        assert status == 200 and released["state"] == "queued" and released["holder"] is None
        assert call(standby_base, "POST", path, MODERATOR, body) == (200, released)
        _kill_9(first, standby, standby_base)
        assert call(standby_base, "POST", path, MODERATOR, body) == (200, released)
        skip = path.replace("release", "skip")
        status, skipped = call(standby_base, "POST", skip, MODERATOR, body | {"reason": "x"})
        assert status == 409 and "you already released" in skipped["detail"][0]["reason"]
    store = open_store(env["QUEUEOPT_DATABASE_URL"])
    try:
        assert [entry.transition for entry in store.audit(0.0, 1000)].count("released") == 1
    finally:
        store.close()


def test_an_engine_that_loses_its_store_lock_stops_at_once(replicated: dict[str, str], tmp_path: Path) -> None:
    """Once its lock is gone a standby may take the store over; the old engine ends at once (status 3) rather than
    go on taking submissions the new one would never queue. What it acknowledged is in the store."""
    env = replicated
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serve(env, tmp_path, "--port", str(port)) as server:
        try:
            wait_until_up(base, server)
            item = {"id": "kept", "modality": "text", "language": "en", "region": "us", "signals": {}}
            assert call(base, "POST", "/v1/items", INGEST, {"items": [item]})[0] == 202
            _break_lock(env["QUEUEOPT_DATABASE_URL"])
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


def test_a_deposed_engine_acknowledges_nothing_its_successor_misses(replicated: dict[str, str], tmp_path: Path) -> None:
    """The serving engine loses its lock while submissions keep arriving straight to it; a standby takes over. Until
    the old engine notices and exits, each write it tries is refused (the claim fenced it out), so every item it
    acknowledged is queued in the new engine: the store's open tasks and the new engine's queues agree."""
    env = replicated
    first_port, standby_port = free_port(), free_port()
    first_base, standby_base = f"http://127.0.0.1:{first_port}", f"http://127.0.0.1:{standby_port}"
    acknowledged: list[str] = []
    with _replicas(env, tmp_path, first_port, standby_port) as (first, standby):
        try:
            stop = threading.Event()
            submitter = threading.Thread(target=_submit_until_gone, args=(first_base, stop, acknowledged))
            submitter.start()
            # Counted, not timed: on a loaded machine half a second may acknowledge fewer than the 21 asked below.
            wait_until(lambda: len(acknowledged) > 20, lambda: f"only {len(acknowledged)} items acknowledged")
            _break_lock(env["QUEUEOPT_DATABASE_URL"])
            assert first.wait(timeout=15) == 3
            stop.set()
            submitter.join(timeout=15)
            wait_until_serving(standby_base, standby)
            status, shown = call(standby_base, "GET", "/v1/queues", ADMIN)
            assert status == 200
            in_engine = sum(queue["depth"] + queue["leased"] for queue in shown["queues"])
        finally:
            for process in (first, standby):
                process.kill()
                process.communicate(timeout=20)
    store = open_store(env["QUEUEOPT_DATABASE_URL"])
    try:
        assert len(store.items(acknowledged)) == len(acknowledged) > 20
        assert in_engine == len(store.open_tasks()), "acknowledged by the deposed engine, never queued by the new one"
    finally:
        store.close()


@contextmanager
def _replicas(
    env: dict[str, str], cwd: Path, first_port: int, standby_port: int
) -> Iterator[tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]]:
    """A serving process, up, then a standby beside it, up: started the other way round the standby would serve."""
    with serve(env, cwd, "--port", str(first_port)) as first:
        try:
            wait_until_up(f"http://127.0.0.1:{first_port}", first)
        except BaseException:
            first.kill()
            first.communicate(timeout=20)
            raise
        with serve(env, cwd, "--port", str(standby_port), "--standby") as standby:
            try:
                wait_until_up(f"http://127.0.0.1:{standby_port}", standby)
            except BaseException:
                for process in (first, standby):
                    process.kill()
                    process.communicate(timeout=20)
                raise
            yield first, standby


def _submit_until_gone(base: str, stop: threading.Event, acknowledged: list[str]) -> None:
    for index in range(100_000):
        if stop.is_set():
            return
        item = {"id": f"fenced-{index}", "modality": "text", "language": "en", "region": "us", "signals": {}}
        try:
            if call(base, "POST", "/v1/items", INGEST, {"items": [item]})[0] == 202:
                acknowledged.append(item["id"])
        except OSError:
            time.sleep(0.01)  # the engine has gone; the test stops this loop


def _break_lock(database_url: str) -> None:
    """What an operator, a server restart or a removed file does to the serving engine's lock while it lives."""
    where = parse_store_url(database_url)
    if where.backend == "sqlite":
        Path(where.path + ".lock").unlink()
        return
    with psycopg.connect(PG_URL, autocommit=True) as operator:
        ended = operator.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'queueopt-engine-lock' AND pid IN "
            "(SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND objid = %s)",
            ((zlib.crc32(str(where.schema).encode()) - 2**31) % 2**32,),
        ).fetchall()
    assert ended == [(True,)]


def test_a_standby_passes_requests_on_exactly_and_answers_its_long_polls_when_it_stops(tmp_path: Path) -> None:
    env = environment(tmp_path)
    first_port, standby_port = free_port(), free_port()
    first_base, standby_base = f"http://127.0.0.1:{first_port}", f"http://127.0.0.1:{standby_port}"
    with _replicas(env, tmp_path, first_port, standby_port) as (first, standby):
        try:
            assert call(standby_base, "PUT", "/v1/moderators/e2e", ADMIN, E2E_PROFILE)[0] == 200
            seen = []
            for base in (first_base, standby_base):
                nothing = _raw(base, "POST", "/v1/moderators/e2e/next", MODERATOR)
                head = _raw(base, "HEAD", "/v1/queues", ADMIN)
                # Dot segments reach the engine's router as sent: `..` is an item id, not "the folder above".
                dotted = _raw(base, "GET", "/v1/x/../queues", ADMIN)
                everything = _raw(base, "OPTIONS", "*", ADMIN)
                # A redirect names the address the client used (its load balancer's), not the serving engine's.
                slash = _raw(base, "GET", "/v1/queues/", ADMIN, host="lb.example.com")
                answers = (nothing, head, dotted, everything, slash)
                seen.append([(answer.status, answer.getheader("content-length")) for answer in answers])
                seen[-1].append(slash.getheader("location"))
            assert seen[0] == seen[1], seen
            assert [status for status, _ in seen[1][:-1]] == [204, 405, 404, 404, 307]
            assert seen[1][0][1] is None, "a 204 carries no content-length"
            assert seen[1][-1] == "http://lb.example.com/v1/queues"
            # `..` reaches the engine as sent, which refuses it as an item id (clients drop such a path segment).
            dots = {"id": "..", "modality": "photo", "language": "en", "region": "us", "signals": {}}
            assert call(standby_base, "POST", "/v1/items", INGEST, {"items": [dots]})[0] == 422
            refused = _raw(standby_base, "GET", "/v1/items/..", INGEST)
            assert refused.status == 422 and json.loads(refused.body)["detail"][0]["field"] == "item_id"
            # An audit export of several pages goes through as it is written, not read whole first.
            for batch in range(3):
                bulk = [{**dots, "id": f"bulk-{batch}-{n}"} for n in range(1000)]
                assert call(standby_base, "POST", "/v1/items", INGEST, {"items": bulk})[0] == 202
            export = [_raw(base, "GET", "/v1/audit?since=0", ADMIN) for base in (first_base, standby_base)]
            assert export[0].body == export[1].body and export[0].body.count(b"\n") == 3000
            assert [answer.getheader("transfer-encoding") for answer in export] == ["chunked", "chunked"]
            _send_half_a_body(standby_port, "half")
            assert call(first_base, "GET", "/v1/items/half", INGEST)[0] == 404, "a body cut short was passed on"
            # More long-polls than an HTTP client pools by default: none of them holds up another request.
            polls = [_start_long_poll(standby_port) for _ in range(110)]
            assert call(standby_base, "GET", "/v1/queues", ADMIN)[0] == 200
            assert all(poll.sock is not None for poll in polls), "a long-poll was answered before the test asked"
            standby.send_signal(signal.SIGTERM)
            answers = {_answer(poll) for poll in polls}
            _, stderr = standby.communicate(timeout=20)
        finally:
            for process in (first, standby):
                process.kill()
                process.communicate(timeout=20)
    assert answers == {204}, "a long-poll passed on was cut off, not answered, when the standby stopped"
    assert standby.returncode == -signal.SIGTERM and b"Traceback" not in stderr, stderr.decode()


class _Answer(http.client.HTTPResponse):
    body: bytes


def _raw(base: str, method: str, path: str, token: str, host: str | None = None) -> _Answer:
    """A request with its path sent exactly as written, and the answer with its headers (and `body`)."""
    address, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(address, int(port), timeout=10)
    headers = {"Authorization": f"Bearer {token}"} | ({"Host": host} if host else {})
    connection.request(method, path, headers=headers)
    answer = cast(_Answer, connection.getresponse())
    answer.body = answer.read()
    connection.close()
    return answer


def _send_half_a_body(port: int, item_id: str) -> None:
    body = f'{{"items": [{{"id": "{item_id}", "modality": "text", "language": "en", "region": "us"}}]}}'.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(
            f"POST /v1/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {INGEST}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body) + 500}\r\n\r\n".encode()
            + body
        )
        time.sleep(0.3)
    time.sleep(0.3)


def _answer(poll: http.client.HTTPConnection) -> int:
    try:
        return poll.getresponse().status
    finally:
        poll.close()


def _start_long_poll(port: int) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/v1/moderators/e2e/next?wait_s=25", headers={"Authorization": f"Bearer {MODERATOR}"})
    return connection


@pytest.mark.postgres
def test_an_engine_whose_store_connection_fails_stops_and_a_standby_takes_over(tmp_path: Path) -> None:
    """The serving engine's own session ends (a database restart, an operator): what its last write did is unknown,
    so it cannot go on from memory. It stops (status 3); the standby rebuilds from the store and serves."""
    name = f"queueopt-test-{uuid.uuid4().hex[:12]}"
    schema = f"replicas_{uuid.uuid4().hex[:12]}"
    env = environment(tmp_path) | {
        "QUEUEOPT_DATABASE_URL": f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema={schema}&application_name={name}"
    }
    first_port, standby_port = free_port(), free_port()
    standby_base = f"http://127.0.0.1:{standby_port}"
    try:
        with _replicas(env, tmp_path, first_port, standby_port) as (first, standby):
            try:
                item = {"id": "kept", "modality": "text", "language": "en", "region": "us", "signals": {}}
                assert call(standby_base, "POST", "/v1/items", INGEST, {"items": [item]})[0] == 202
                with psycopg.connect(PG_URL, autocommit=True) as operator:
                    # Both processes' store sessions (the standby's reads the serving address), not their locks.
                    ended = operator.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,)
                    ).fetchall()
                assert ended and all(row[0] for row in ended)
                assert first.wait(timeout=15) == 3
                _, stderr = first.communicate(timeout=10)
                assert b"connection to its store failed" in stderr
                wait_until_serving(standby_base, standby)
                status, shown = call(standby_base, "GET", "/v1/items/kept", INGEST)
                assert status == 200 and shown["status"] == "queued"
            finally:
                for process in (first, standby):
                    process.kill()
                    process.communicate(timeout=20)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
@pytest.mark.parametrize("replicated", ["postgres"], indirect=True)
def test_a_hung_engine_is_replaced_within_its_heartbeat_bound_and_stops_when_it_wakes(
    replicated: dict[str, str], tmp_path: Path
) -> None:
    """A stopped process (SIGSTOP) keeps its PostgreSQL sessions, and with them the store's lock, for as long as it
    lives: no standby ever took over (found by a probe). Its beats stop, so the standby ends its sessions and takes
    over within the bound. Woken, the old engine finds its lock gone and stops; the decision it was sent while hung
    is not applied, the lease stays its successor's, and each task is leased once."""
    env = replicated | {"QUEUEOPT_HEARTBEAT_TIMEOUT_S": "4"}
    first_port, standby_port = free_port(), free_port()
    standby_base = f"http://127.0.0.1:{standby_port}"
    with _replicas(env, tmp_path, first_port, standby_port) as (first, standby):
        try:
            leased = round_trip_until_leased(standby_base)
            waiting = {"id": "waiting", "modality": "text", "language": "en", "region": "us", "signals": {"hate": 0.9}}
            assert call(standby_base, "POST", "/v1/items", INGEST, {"items": [waiting]})[0] == 202
            decision = {"lease_token": leased["lease_token"], "verdict": "violating", "policy": "hate"}
            path = f"/v1/tasks/{leased['task_id']}/decision"
            first.send_signal(signal.SIGSTOP)
            hung_at = time.monotonic()
            sent_to_hung: list[object] = []
            sender = threading.Thread(target=_post_slowly, args=(first_port, path, decision, sent_to_hung))
            sender.start()
            while call(standby_base, "GET", "/v1/queues", ADMIN, forwarded=True)[0] != 200:
                assert time.monotonic() - hung_at < 15.0, "the standby did not replace the hung engine"
                assert standby.poll() is None
                time.sleep(0.1)
            took = time.monotonic() - hung_at
            first.send_signal(signal.SIGCONT)
            assert first.wait(timeout=15) == 3
            _, stderr = first.communicate(timeout=10)
            sender.join(timeout=60)
            assert sent_to_hung and sent_to_hung[0] != 200, sent_to_hung
            assert call(standby_base, "POST", path, MODERATOR, decision)[0] == 200, "the lease outlived its engine"
            status, task = call(standby_base, "POST", "/v1/moderators/e2e/next?wait_s=5", MODERATOR)
            assert status == 200 and task["item_id"] == "waiting"
        finally:
            for process in (first, standby):
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.communicate(timeout=20)
    assert took < 4.0 + 5.0, f"taken over {took:.1f} s after the engine hung"
    assert stderr.decode().splitlines()[-1].endswith("stopping at once so that one engine serves the store")
    store = open_store(env["QUEUEOPT_DATABASE_URL"])
    try:
        leases = [entry.task_id for entry in store.audit(0.0, 1000) if entry.transition == "leased"]
        assert sorted(leases) == sorted([leased["task_id"], "waiting"])
        assert store.items([leased["task_id"]])[leased["task_id"]].status == "decided"
    finally:
        store.close()


def _post_slowly(port: int, path: str, body: object, answers: list[object]) -> None:
    """POST `body` to a process that may be hung for a while; its status, or the error it ended with."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Authorization": f"Bearer {MODERATOR}", "Content-Type": "application/json"},
        )
        answers.append(connection.getresponse().status)
    except OSError as error:
        answers.append(error)
    finally:
        connection.close()
