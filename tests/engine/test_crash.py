"""Nothing acknowledged is lost: SIGKILL a submitting process at random moments, 24 times, then check."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import REPO

from queueopt.clock import VirtualClock
from queueopt.config import load_config
from queueopt.domain import TaskState
from queueopt.engine import Engine
from queueopt.store import open_store

CHILD = Path(__file__).with_name("crash_child.py")
KILLS = 24


@pytest.mark.slow
def test_acknowledged_items_survive_sigkill(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    config = REPO / "examples" / "ops.toml"
    rng = random.Random(20261124)
    acknowledged: list[str] = []
    batches_awaited = 0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for run in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, str(CHILD), url, str(config), f"r{run}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert child.stdout is not None
        # Wait until it is up and has acknowledged a few batches, however slow the machine, then kill it at a
        # random moment after (a kill timed by the clock alone fell before the second batch on a loaded machine).
        for _ in range(1 + rng.randrange(3)):
            line = child.stdout.readline()
            assert line, child.stderr.read() if child.stderr else "child died"
            acknowledged.extend(line.split())
            batches_awaited += 1
        time.sleep(rng.uniform(0.0, 0.4))
        child.send_signal(signal.SIGKILL)
        remaining, _ = child.communicate(timeout=30)
        # a line is an acknowledgement only if it was printed whole
        lines = remaining.split("\n")
        complete = lines[:-1] if not remaining.endswith("\n") else lines
        for line in complete:
            acknowledged.extend(line.split())
        assert child.returncode == -signal.SIGKILL

    store = open_store(url)
    found = store.items(acknowledged)
    assert len(acknowledged) == len(set(acknowledged)) >= batches_awaited * 25 > KILLS * 25
    assert set(found) == set(acknowledged)
    open_tasks = store.open_tasks()
    assert len({task.id for task in open_tasks}) == len(open_tasks)
    assert all((task.state is TaskState.LEASED) == (task.holder is not None) for task in open_tasks)
    # a restart far in the future returns every lease to its queue
    engine = Engine(store, VirtualClock(time.time() + 10 * 3600), load_config(config))
    assert all(engine.task(task.id).state is TaskState.QUEUED for task in open_tasks)
    print(f"{KILLS} kills, {len(acknowledged)} acknowledged items, all found; {len(open_tasks)} open tasks")
