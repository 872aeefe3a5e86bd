"""HTTP service throughput and latency under `wrk`, against a trivial FastAPI endpoint served the same way.

A Python load generator saturates long before the server does, so `wrk` (C, Lua-scripted) drives the load. Three
phases, each bounded in time, each against a fresh uvicorn process on loopback:

1. baseline: `GET /ping` on a one-route FastAPI app under the same uvicorn settings, the framework's ceiling;
2. ingest: `POST /v1/items` with 100 new items per request (items/s, p50/p99), then the store is opened after the
   server stopped to check every acknowledged item is there;
3. moderator loop: 500 moderators each pulling (`/next`) and deciding (`/decision`) in turn (cycles/s, p50/p99),
   once flat out (32 connections, no pause: capacity, where latency is just connections / throughput) and once
   paced like people (50 connections, 490 ms between requests: each moderator decides about every 10 s);
4. the paced loop again, sent to a standby replica that passes each request to the serving process: what the
   extra hop costs a moderator behind a load balancer (the standby's CPU is the one printed).

Each phase prints the server's CPU use (from /proc/<pid>/stat), that CPU time per request, and its request rate as a
ratio of the baseline's. On a machine shared with other work the rates and latencies move with the neighbours' load;
CPU time per request moves much less, so it is the figure to compare between runs there.
Targets (issue 7): ingest >= 20,000 items/s, durably stored; moderator-loop p99 < 50 ms.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUEUEOPT = Path(sys.executable).parent / "queueopt"
DURATION_S = 15
MODERATORS = 500
BATCH = 100
INGEST_CONNECTIONS = 8
LOOP_CONNECTIONS = 32
PACED_CONNECTIONS = 50
PACED_DELAY_MS = 490
BACKLOG_ITEMS = 20_000
INGEST_TARGET = 20_000.0
LOOP_P99_TARGET_MS = 50.0
ADMIN = "bench-admin-token"
INGEST = "bench-ingest-token"

# The framework's ceiling: the same FastAPI and the same uvicorn stack as `queueopt serve` (httptools, uvloop).
PING_APP = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", http="httptools", loop="uvloop")
"""

# Each wrk thread numbers its items from its own prefix, so every request carries 100 ids never seen before.
INGEST_LUA = """
local threads = {}
function setup(thread)
  thread:set("prefix", "t" .. #threads)
  table.insert(threads, thread)
end
local counter = 0
local kinds = {
  '"modality":"text","signals":{"hate":0.7}',
  '"modality":"photo","signals":{"violence":0.6}',
  '"modality":"video","duration_s":30,"signals":{"violence":0.6}',
  '"modality":"audio","duration_s":60,"signals":{"harassment":0.4}',
}
function request()
  local parts = {}
  for i = 1, %(batch)d do
    counter = counter + 1
    parts[i] = string.format('{"id":"%%s-%%d","language":"en","region":"us","views_per_hour":%%d,%%s}',
      prefix, counter, counter %% 5000, kinds[counter %% 4 + 1])
  end
  return wrk.format("POST", "/v1/items", headers, '{"items":[' .. table.concat(parts, ",") .. ']}')
end
headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(token)s"}
%(done)s
"""

# Moderators are split between wrk threads. A thread asks /next for its idle moderators in turn; a 200 puts the
# lease on a queue and the thread's next request decides it (any connection may carry it: auth is per request).
LOOP_LUA = """
local threads = {}
function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end
decided = 0
local pending, busy, owner, turn = {}, {}, {}, 0
local mine = nil
local function moderators()
  if mine == nil then
    mine = {}
    for m = index, %(moderators)d - 1, %(threads)d do table.insert(mine, m) end
  end
  return mine
end
local function auth(m)
  return {["Content-Type"] = "application/json", ["Authorization"] = "Bearer bench-mod-" .. m}
end
local function idle()
  local list = moderators()
  for _ = 1, #list do
    turn = turn %% #list + 1
    if not busy[list[turn]] then return list[turn] end
  end
  -- every moderator looks busy: some answer we could not attribute (a 204 or a 409) left them marked; start over
  busy = {}
  for _, job in ipairs(pending) do busy[job.m] = true end
  turn = turn %% #list + 1
  return list[turn]
end
function request()
  local job = table.remove(pending, 1)
  if job ~= nil then
    local body = '{"lease_token":"' .. job.token .. '","verdict":"not_violating"}'
    return wrk.format("POST", "/v1/tasks/" .. job.task .. "/decision", auth(job.m), body)
  end
  local m = idle()
  busy[m] = true
  return wrk.format("POST", "/v1/moderators/mod-" .. m .. "/next", auth(m), nil)
end
function response(status, headers, body)
  if status ~= 200 then return end
  local task = body:match('"task_id":"([^"]+)"')
  local holder = body:match('"holder":"mod%%-(%%d+)"')
  local token = body:match('"lease_token":"([^"]+)"')
  if holder ~= nil and token ~= nil then
    owner[task] = tonumber(holder)
    table.insert(pending, {m = owner[task], task = task, token = token})
  elseif task ~= nil and body:find('"state":"decided"', 1, true) then
    decided = decided + 1
    if owner[task] ~= nil then busy[owner[task]] = nil end
    owner[task] = nil
  end
end
%(pace)s
%(done)s
"""

# wrk keeps one Lua state per thread; `done` reads counters from each, and prints one JSON line to parse.
DONE_LUA = """
function done(summary, latency, requests)
  local decided = 0
  for _, t in ipairs(threads or {}) do decided = decided + (t:get("decided") or 0) end
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.3f,"p50_ms":%.3f,"p99_ms":%.3f,"errors":%d,"non2xx":%d,"decided":%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, decided))
end
"""


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    non2xx: int
    decided: int
    cpu_cores: float
    cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000.0 * self.cpu_s / max(self.requests, 1)


def ensure_wrk() -> str:
    """wrk is a Debian package; install it when missing, or stop with a clear message."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found; trying `apt-get install -y wrk`", flush=True)
    subprocess.run(["apt-get", "install", "-y", "wrk"], stdout=subprocess.DEVNULL, check=False)
    found = shutil.which("wrk")
    if not found:
        print("bench_http: needs wrk (apt-get install wrk) and could not install it", file=sys.stderr)
        sys.exit(2)
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (psutil is not a dependency)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within a minute")


@contextmanager
def server(command: list[str], ready_path: str, port: int, env: dict[str, str] | None = None) -> Iterator[int]:
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    try:
        try:
            wait_ready(f"http://127.0.0.1:{port}{ready_path}", process)
        except RuntimeError:
            log.seek(0)
            print(log.read().decode(errors="replace")[-3000:], file=sys.stderr)
            raise
        yield process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def serve_command(port: int) -> list[str]:
    return [str(QUEUEOPT), "serve", "--port", str(port), "--log-level", "warning"]


def run_wrk(wrk: str, url: str, script: Path, connections: int, pid: int, threads: int = 1) -> Run:
    before, start = cpu_seconds(pid), time.perf_counter()
    result = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{DURATION_S}s", "--timeout", "10s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    used = cpu_seconds(pid) - before
    cores = used / (time.perf_counter() - start)
    match = re.search(r"^RESULT (.*)$", result.stdout, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{result.stdout}\n{result.stderr}")
    return Run(**json.loads(match.group(1)), cpu_cores=cores, cpu_s=used)


def write_fixtures(root: Path) -> dict[str, str]:
    lines = [f'[[tokens]]\nrole = "admin"\ntoken = "{ADMIN}"', f'[[tokens]]\nrole = "ingest"\ntoken = "{INGEST}"']
    roster = []
    for index in range(MODERATORS):
        lines.append(f'[[tokens]]\nrole = "moderator"\nmoderator_id = "mod-{index}"\ntoken = "bench-mod-{index}"')
        roster.append(
            {
                "id": f"mod-{index}",
                "regions": ["us"],
                "languages": {"en": 1.0},
                "modalities": ["text", "photo", "video", "audio", "livestream"],
                "policy_areas": ["hate", "harassment", "violence", "nudity", "spam", "self_harm"],
                "severe_per_hour": 100_000,
            }
        )
    (root / "tokens.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "roster.json").write_text(json.dumps(roster), encoding="utf-8")
    return os.environ | {
        "QUEUEOPT_CONFIG": str(REPO / "examples" / "ops.toml"),
        "QUEUEOPT_TOKENS_FILE": str(root / "tokens.toml"),
        "QUEUEOPT_ROSTER_FILE": str(root / "roster.json"),
    }


def lua(root: Path, name: str, template: str, **values: object) -> Path:
    path = root / name
    path.write_text(template % ({"done": DONE_LUA} | values), encoding="utf-8")
    return path


def stored_items(database_url: str) -> int:
    from queueopt.store import open_store

    store = open_store(database_url)
    try:
        return store.count_items()
    finally:
        store.close()


def seed_backlog(url: str, count: int) -> None:
    """Enough queued work that the moderator loop measures pulling and deciding, never an empty queue."""
    for start in range(0, count, 1000):
        items = [
            {"id": f"backlog-{index}", "modality": "text", "language": "en", "region": "us", "signals": {"hate": 0.7}}
            for index in range(start, min(start + 1000, count))
        ]
        request = urllib.request.Request(
            f"{url}/v1/items",
            data=json.dumps({"items": items}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {INGEST}"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 202


def report(name: str, run: Run, baseline: Run, unit: str, per_request: float) -> None:
    print(
        f"{name:<15} {run.rate * per_request:>10,.0f} {unit:<8} {run.rate:>8,.0f} req/s  p50 {run.p50_ms:6.1f} ms  "
        f"p99 {run.p99_ms:6.1f} ms  server CPU {run.cpu_cores:4.2f} cores, {run.cpu_ms_per_request:5.2f} ms/req  "
        f"ratio to baseline {run.rate / baseline.rate:.2f}  (errors {run.errors}, non-2xx {run.non2xx})",
        flush=True,
    )


def main() -> int:
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        root = Path(tmp)
        env = write_fixtures(root)
        ping = root / "ping.lua"
        ping.write_text(DONE_LUA, encoding="utf-8")
        ping_paced = root / "ping-paced.lua"
        ping_paced.write_text(f"function delay() return {PACED_DELAY_MS} end\n{DONE_LUA}", encoding="utf-8")

        port = free_port()
        with server([sys.executable, "-c", PING_APP, str(port)], "/ping", port) as pid:
            baseline_ingest = run_wrk(wrk, f"http://127.0.0.1:{port}/ping", ping, INGEST_CONNECTIONS, pid)
            baseline_loop = run_wrk(wrk, f"http://127.0.0.1:{port}/ping", ping, LOOP_CONNECTIONS, pid)
            baseline_paced = run_wrk(wrk, f"http://127.0.0.1:{port}/ping", ping_paced, PACED_CONNECTIONS, pid)
        report("baseline c=8", baseline_ingest, baseline_ingest, "req/s", 1)
        report("baseline c=32", baseline_loop, baseline_loop, "req/s", 1)
        report("baseline paced", baseline_paced, baseline_paced, "req/s", 1)

        database_url = f"sqlite:///{root / 'ingest.db'}"
        port = free_port()
        script = lua(root, "ingest.lua", INGEST_LUA, batch=BATCH, token=INGEST)
        ingest_env = {name: value for name, value in env.items() if name != "QUEUEOPT_ROSTER_FILE"}
        with server(serve_command(port), "/readyz", port, ingest_env | {"QUEUEOPT_DATABASE_URL": database_url}) as pid:
            ingest = run_wrk(wrk, f"http://127.0.0.1:{port}", script, INGEST_CONNECTIONS, pid)
        acknowledged = (ingest.requests - ingest.non2xx) * BATCH
        stored = stored_items(database_url)
        report("ingest x100", ingest, baseline_ingest, "items/s", BATCH)
        print(f"  acknowledged {acknowledged:,} items, found {stored:,} in the store after shutdown", flush=True)

        database_url = f"sqlite:///{root / 'loop.db'}"
        port = free_port()
        threads = 2
        flat_out = lua(root, "loop.lua", LOOP_LUA, moderators=MODERATORS, threads=threads, pace="")
        paced = lua(
            root,
            "paced.lua",
            LOOP_LUA,
            moderators=MODERATORS,
            threads=threads,
            pace=f"function delay() return {PACED_DELAY_MS} end",
        )
        with server(serve_command(port), "/readyz", port, env | {"QUEUEOPT_DATABASE_URL": database_url}) as pid:
            seed_backlog(f"http://127.0.0.1:{port}", BACKLOG_ITEMS)
            url = f"http://127.0.0.1:{port}"
            loop = run_wrk(wrk, url, flat_out, LOOP_CONNECTIONS, pid, threads=threads)
            steady = run_wrk(wrk, url, paced, PACED_CONNECTIONS, pid, threads=threads)
            standby_port = free_port()
            standby_env = env | {"QUEUEOPT_DATABASE_URL": database_url, "QUEUEOPT_STANDBY": "true"}
            with server(serve_command(standby_port), "/readyz", standby_port, standby_env) as standby_pid:
                relayed = run_wrk(
                    wrk, f"http://127.0.0.1:{standby_port}", paced, PACED_CONNECTIONS, standby_pid, threads=threads
                )
        report("loop, flat out", loop, baseline_loop, "req/s", 1)
        print(f"  {loop.decided / loop.seconds:,.0f} cycles/s (next + decision) by {MODERATORS} moderators", flush=True)
        report("loop, paced", steady, baseline_paced, "req/s", 1)
        print(
            f"  {steady.decided / steady.seconds:,.0f} cycles/s: {MODERATORS} moderators on {PACED_CONNECTIONS} "
            f"connections, {PACED_DELAY_MS} ms between requests (one decision per moderator every ~10 s)",
            flush=True,
        )

        report("paced, standby", relayed, baseline_paced, "req/s", 1)
        print(
            f"  the paced loop sent to a standby, which passes every request to the serving process: p99 "
            f"{relayed.p99_ms:.1f} ms against {steady.p99_ms:.1f} ms direct (x{relayed.p99_ms / steady.p99_ms:.2f}); "
            f"the standby's own CPU {relayed.cpu_ms_per_request:.2f} ms per request",
            flush=True,
        )

        items_per_s = ingest.rate * BATCH
        print(
            f"targets: ingest {items_per_s:,.0f} items/s vs {INGEST_TARGET:,.0f} "
            f"({'met' if items_per_s >= INGEST_TARGET and stored >= acknowledged else 'NOT met'}); "
            f"moderator-loop p99 {steady.p99_ms:.1f} ms paced, {loop.p99_ms:.1f} ms flat out, vs "
            f"{LOOP_P99_TARGET_MS:.0f} ms ({'met' if steady.p99_ms < LOOP_P99_TARGET_MS else 'NOT met'} paced, "
            f"{'met' if loop.p99_ms < LOOP_P99_TARGET_MS else 'NOT met'} flat out)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
