"""What the serving engine was started with (its tokens file, ops config and roster file), kept in the store as
digests, so that a replica can say when its own files differ.

A standby passes every request to the serving engine, which checks the token and applies its config; once the
standby takes over, its own files apply. A standby started with other tokens, or another config, therefore serves
with no complaint until the take-over, when tokens that worked a moment earlier are refused (found by a probe). A
difference may be meant (a rolling change of config is exactly that), so it is logged, not refused: by the standby
when it starts, and by the engine that takes over, naming the files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from queueopt.service.settings import Settings
from queueopt.store import Store

SETTING = "serving_files"
FILES = ("tokens_file", "config", "roster_file")


def digests(settings: Settings) -> dict[str, str]:
    """Each file's SHA-256, or "none" where the setting names no file. Read when the process starts, beside the
    files themselves: at a take-over, maybe days later, a file may have changed or gone."""
    found: dict[str, str] = {}
    for name in FILES:
        path: Path | None = getattr(settings, name)
        found[name] = "none" if path is None else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def differing(store: Store, ours: dict[str, str]) -> list[str]:
    """The files whose digests (`ours`) differ from the serving engine's, as it kept them (`keep`); none when no
    engine kept any (a release before this one served the store, or none did)."""
    kept = store.setting(SETTING)
    if kept is None:
        return []
    theirs = json.loads(kept)
    return [name for name in FILES if theirs.get(name) != ours[name]]


def keep(store: Store, ours: dict[str, str]) -> None:
    """Record the files this serving engine was started with (a fenced write: only the engine serving may)."""
    store.keep_setting(SETTING, json.dumps(ours, sort_keys=True))


def said(names: list[str]) -> str:
    return ", ".join(name.replace("_", " ") for name in names)
