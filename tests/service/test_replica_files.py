"""A replica started with other files than the serving engine's says so (found by a probe: a standby with another
tokens file served without complaint until its take-over, when the tokens that had worked were refused)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from fastapi import FastAPI
from tests.conftest import REPO
from tests.service.conftest import Client

from queueopt.service import replica_files
from queueopt.service.app import create_app
from queueopt.service.commands import _check_store
from queueopt.service.settings import Settings
from queueopt.store import MemoryStore


def _otherwise(settings: Settings, tmp_path: Path, name: str) -> Settings:
    """`settings` with one file changed: the tokens file with one more token, the config with a longer lease, or a
    roster file where there was none."""
    if name == "tokens_file":
        assert settings.tokens_file is not None
        changed = tmp_path / "other-tokens.toml"
        changed.write_text(settings.tokens_file.read_text() + '[[tokens]]\nrole = "admin"\ntoken = "another-admin"\n')
    elif name == "config":
        changed = tmp_path / "other-ops.toml"
        text = settings.config.read_text()
        changed.write_text(text.replace("lease_s = 600", "lease_s = 900", 1))
        assert changed.read_text() != text
    else:
        changed = tmp_path / "roster.json"
        changed.write_text("[]")
    return settings.model_copy(update={name: changed})


@pytest.mark.parametrize("name", replica_files.FILES)
def test_each_file_that_differs_from_the_kept_ones_is_named(settings: Settings, tmp_path: Path, name: str) -> None:
    store, ours = MemoryStore(), replica_files.digests(settings)
    assert replica_files.differing(store, ours) == [], "nothing kept yet: nothing to compare"
    replica_files.keep(store, ours)
    assert replica_files.differing(store, ours) == []
    assert replica_files.differing(store, replica_files.digests(_otherwise(settings, tmp_path, name))) == [name]


def test_a_standby_and_a_taking_over_engine_say_which_files_differ(
    settings: Settings,
    tmp_path: Path,
    serve: Callable[[FastAPI], AbstractContextManager[Client]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert settings.config == REPO / "examples" / "ops.toml"
    with serve(create_app(settings)):
        pass  # the serving engine keeps what it was started with
    other = _otherwise(settings, tmp_path, "tokens_file")
    with caplog.at_level(logging.WARNING):
        _check_store(settings, holding=False)
        assert "differ" not in caplog.text
        _check_store(other, holding=False)
        assert "standby: its tokens file differ(s) from the serving engine's" in caplog.text
        caplog.clear()
        with serve(create_app(other)):
            pass
        assert "this engine serves with a tokens file other than the engine that served the store before" in (
            caplog.text
        )
        caplog.clear()
        again = create_app(other)
        assert other.tokens_file is not None
        other.tokens_file.unlink()  # gone by the time a standby takes over: what it started with is what counts
        with serve(again):
            pass
        assert "other than the engine" not in caplog.text, "the files it started with are now the ones kept"
