"""The demo setup `make run` writes: tokens the service accepts and a roster that covers every queue."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from queueopt.config import OpsConfig
from queueopt.service.app import create_app
from queueopt.service.auth import Authenticator, Principal, Role
from queueopt.service.demo import instructions, write_demo
from queueopt.service.roster import load_roster
from queueopt.service.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def test_demo_tokens_authenticate_and_stay_private(tmp_path: Path, example_config: OpsConfig) -> None:
    setup = write_demo(tmp_path / "var", example_config)
    auth = Authenticator.from_file(setup.tokens_file)
    assert auth.authenticate(setup.admin_token) == Principal(Role.ADMIN)
    assert auth.authenticate(setup.ingest_token) == Principal(Role.INGEST)
    for moderator_id, token in setup.moderator_tokens.items():
        assert auth.authenticate(token) == Principal(Role.MODERATOR, moderator_id)
    assert setup.tokens_file.stat().st_mode & 0o077 == 0


def test_every_queue_has_a_demo_moderator_who_meets_its_requirements(tmp_path: Path, example_config: OpsConfig) -> None:
    roster = load_roster(write_demo(tmp_path / "var", example_config).roster_file, example_config)
    assert 15 <= len(roster) <= 30
    clearance_of = {area.name: area.clearance for area in example_config.policy_areas}
    for queue in example_config.queues:
        needed_clearance = set(queue.requires.clearance) | {
            clearance_of[area] for area in queue.requires.policy_areas if clearance_of[area]
        }
        assert any(
            needed_clearance <= set(profile.clearance)
            and set(queue.requires.policy_areas) <= set(profile.policy_areas)
            and set(queue.requires.languages) <= set(profile.languages)
            for profile in roster
        ), queue.name


def test_the_printed_instructions_hold_a_working_curl_round_trip(tmp_path: Path, example_config: OpsConfig) -> None:
    setup = write_demo(tmp_path / "var", example_config)
    text = instructions(setup, "http://127.0.0.1:8000")
    assert setup.admin_token in text and setup.ingest_token in text and setup.metrics_token in text
    assert text.count("curl ") == 4
    assert "/v1/items" in text and "/next" in text and "/decision" in text


def test_the_printed_example_works_against_the_demo_service(
    tmp_path: Path, example_config: OpsConfig, serve: Callable[[FastAPI], AbstractContextManager[Any]]
) -> None:
    """Replays the printed curl commands (the item, the moderator, the decision) against the demo's files."""
    setup = write_demo(tmp_path / "var", example_config)
    text = instructions(setup, "http://127.0.0.1:8000")
    moderator_id, token = next(iter(setup.moderator_tokens.items()))
    body = re.search(r"-d '(\{\"items\".*?\}\]\})'", text, re.DOTALL)
    assert body is not None
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'var' / 'demo.db'}",
        config=REPO / "examples" / "ops.toml",
        tokens_file=setup.tokens_file,
        roster_file=setup.roster_file,
        tick_s=0.05,
    )
    with serve(create_app(settings)) as client:
        ingest = {"Authorization": f"Bearer {setup.ingest_token}", "Content-Type": "application/json"}
        assert client.post("/v1/items", content=body.group(1), headers=ingest).status_code == 202
        moderator = {"Authorization": f"Bearer {token}"}
        pulled = client.post(f"/v1/moderators/{moderator_id}/next", params={"wait_s": 5}, headers=moderator)
        assert pulled.status_code == 200 and pulled.json()["task_id"] == "demo-1"
        decision = {"lease_token": pulled.json()["lease_token"], "verdict": "violating", "policy": "hate"}
        decided = client.post("/v1/tasks/demo-1/decision", json=decision, headers=moderator)
        assert decided.status_code == 200
        assert client.get("/v1/items/demo-1", headers=ingest).json()["decided_by"] == moderator_id
