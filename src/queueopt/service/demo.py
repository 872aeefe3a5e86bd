"""`make run`'s setup: demo tokens and a demo roster in `var/`, so the service is usable the moment it starts.

The roster is derived from the ops config, so every queue has moderators who may take its tasks: every policy area,
both clearance tiers on a few people, English plus one other language each, and every region (demo data has no
residency constraints worth modelling). Tokens are random per run and stored in plain text: development only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from queueopt.capability import ModeratorProfile
from queueopt.config import OpsConfig
from queueopt.domain import Modality
from queueopt.service.roster import dump_roster

LANGUAGES = ["es", "pt", "hi", "ar", "fr", "de", "ja", "id"]
# Only the first demo moderator reads Irish, so the printed example's item can go to no one else.
EXAMPLE_LANGUAGE = "ga"
REGIONS = ["us", "eu", "br", "in", "mena"]
MODERATORS = 20


@dataclass(frozen=True, slots=True)
class DemoSetup:
    tokens_file: Path
    roster_file: Path
    admin_token: str
    ingest_token: str
    metrics_token: str
    moderator_tokens: dict[str, str]


def demo_roster(config: OpsConfig, count: int = MODERATORS) -> list[ModeratorProfile]:
    areas = [area.name for area in config.policy_areas]
    clearances = sorted({area.clearance for area in config.policy_areas if area.clearance})
    roster = []
    for index in range(count):
        cleared = _clearance(index, clearances)
        roster.append(
            ModeratorProfile(
                id=f"mod-{index + 1:02d}",
                vendor="internal" if index % 2 == 0 else "vendor-a",
                site="dublin" if index % 3 else "manila",
                regions=REGIONS,
                languages={"en": 1.0, LANGUAGES[index % len(LANGUAGES)]: 0.9}
                | ({EXAMPLE_LANGUAGE: 0.8} if index == 0 else {}),
                modalities=list(Modality),
                policy_areas=areas,
                clearance=cleared,
                capacity=2,
            )
        )
    return roster


def _clearance(index: int, clearances: list[str]) -> list[str]:
    """Every fourth moderator holds every clearance, the next ones one tier each, the rest none."""
    tier = index % 4
    if tier == 0:
        return clearances
    return [clearances[tier - 1]] if tier <= len(clearances) else []


def write_demo(var: Path, config: OpsConfig) -> DemoSetup:
    var.mkdir(parents=True, exist_ok=True)
    roster = demo_roster(config)
    admin, ingest, metrics = (secrets.token_urlsafe(24) for _ in range(3))
    moderators = {profile.id: secrets.token_urlsafe(24) for profile in roster}
    lines = ["# Demo tokens, plain text: development only. Rewritten by every `queueopt demo-serve`.", ""]
    lines += _entry("admin", admin) + _entry("ingest", ingest) + _entry("metrics", metrics)
    for moderator_id, token in moderators.items():
        lines += _entry("moderator", token, moderator_id)
    tokens_file = var / "demo-tokens.toml"
    tokens_file.write_text("\n".join(lines), encoding="utf-8")
    tokens_file.chmod(0o600)
    roster_file = var / "demo-roster.json"
    roster_file.write_bytes(dump_roster(roster))
    return DemoSetup(tokens_file, roster_file, admin, ingest, metrics, moderators)


def _entry(role: str, token: str, moderator_id: str | None = None) -> list[str]:
    lines = ["[[tokens]]", f'role = "{role}"']
    if moderator_id is not None:
        lines.append(f'moderator_id = "{moderator_id}"')
    return [*lines, f'token = "{token}"', ""]


def instructions(setup: DemoSetup, base_url: str) -> str:
    """What `make run` prints: where the service is, the tokens, and one submit -> pull -> decide round trip."""
    moderator_id, moderator_token = next(iter(setup.moderator_tokens.items()))
    return f"""queueopt demo on {base_url}  (API docs: {base_url}/docs, metrics: {base_url}/metrics)
tokens: {setup.tokens_file}   roster: {setup.roster_file}
  admin:   {setup.admin_token}
  ingest:  {setup.ingest_token}
  metrics: {setup.metrics_token}   (Prometheus's token for /metrics)
  {moderator_id}: {moderator_token}   (the other moderators' tokens are in the tokens file)

# submit an item
curl -s -X POST {base_url}/v1/items -H 'Authorization: Bearer {setup.ingest_token}' \\
  -H 'Content-Type: application/json' \\
  -d '{{"items": [{{"id": "demo-1", "modality": "text", "language": "{EXAMPLE_LANGUAGE}", "region": "eu",
                   "signals": {{"hate": 0.8}}}}]}}'
# pull it as {moderator_id}, the demo's only Irish reader (waits up to 5 s for the assigner)
curl -s -X POST '{base_url}/v1/moderators/{moderator_id}/next?wait_s=5' -H 'Authorization: Bearer {moderator_token}'
# decide it, with the task_id and lease_token from the answer above
curl -s -X POST {base_url}/v1/tasks/demo-1/decision -H 'Authorization: Bearer {moderator_token}' \\
  -H 'Content-Type: application/json' -d '{{"lease_token": "<lease_token>", "verdict": "violating", "policy": "hate"}}'
# see the decision
curl -s {base_url}/v1/items/demo-1 -H 'Authorization: Bearer {setup.ingest_token}'
"""
