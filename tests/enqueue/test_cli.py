"""`queueopt check-config` and `queueopt route` as a strategist runs them: a real process, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO

QUEUEOPT = str(Path(sys.executable).parent / "queueopt")
EXAMPLE = str(REPO / "examples" / "ops.toml")


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUEUEOPT, *args], capture_output=True, text=True, input=stdin, timeout=60, check=False)


def test_check_config_accepts_the_example() -> None:
    done = run("check-config", EXAMPLE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{EXAMPLE}: ok (15 queues, 19 rules)"
    assert done.stderr == ""


def test_check_config_reports_each_error_on_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    text = (REPO / "examples" / "ops.toml").read_text()
    bad.write_text(text.replace('queue = "appeals"', 'queue = "apeals"').replace("sla_s = 120", "sla_s = -1"))
    done = run("check-config", str(bad))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"{bad}: queues.3.sla_s: Input should be greater than or equal to 1"]
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        (
            'name = "late_video"\nqueue = "video_standard"\nwhen = { modality = ["video"], min_reports = 9 }',
            "rule 'video_reported_intl' (rules.9) already catches every item it would",
        ),
        (
            'name = "late_english"\nqueue = "triage"\nwhen = { language = ["en"] }',
            "rules 'appeals' (rules.3), 'livestream' (rules.4), 'video_rest' (rules.10), 'photo_rest' (rules.13), "
            "'text_rest' (rules.16), 'audio' (rules.17) between them already catch every item it would (each "
            "modality and source by one of them)",
        ),
    ],
)
def test_check_config_warns_about_a_shadowed_rule(tmp_path: Path, rule: str, why: str) -> None:
    """By one earlier rule, or by several, one per modality (found by a probe: a rule behind the example's
    modality rules passed without a word). The example's own catch-all is left nothing too, and not warned about:
    the config requires it."""
    shadowed = tmp_path / "shadowed.toml"
    text = (REPO / "examples" / "ops.toml").read_text()
    catch_all = '[[rules]]\nname = "everything_else"'
    shadowed.write_text(text.replace(catch_all, f"[[rules]]\n{rule}\n\n{catch_all}"))
    done = run("check-config", str(shadowed))
    assert done.returncode == 0
    assert (
        done.stderr.strip() == f"{shadowed}: warning: rules.18: rule {rule.split(chr(34))[1]!r} can never match: {why}"
    )


def test_route_prints_one_line_per_item_and_reports_bad_lines(tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    lines = [
        json.dumps({"id": "a", "modality": "video", "language": "en", "region": "us", "signals": {"violence": 0.9}}),
        '{"id": "b", "modality": "hologram", "language": "en", "region": "us"}',
        "not json",
        json.dumps(
            {"id": "c", "modality": "text", "language": "es", "region": "eu", "source": "appeal", "content_hash": "h"}
        ),
        # Found by a probe: routed here, though the API refuses an appeal that names no content.
        json.dumps({"id": "d", "modality": "text", "language": "es", "region": "eu", "source": "appeal"}),
    ]
    items.write_text("\n".join(lines) + "\n")
    done = run("route", "--config", EXAMPLE, str(items))
    assert done.returncode == 1
    routed = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["id"], r["queue"], r["action"]) for r in routed] == [
        ("a", "video_high_en", "review"),
        ("c", "appeals", "review"),
    ]
    assert all(set(r) == {"id", "queue", "priority", "action", "explanation"} for r in routed)
    errors = done.stderr.splitlines()
    assert errors[0] == f"{items}:2: modality: Input should be 'video', 'audio', 'photo', 'text' or 'livestream'"
    assert errors[1].startswith(f"{items}:3: (root): Invalid JSON")
    assert errors[2].startswith(f"{items}:5: content_hash: an appeal or escalation must carry the content_hash")
    assert len(errors) == 3


def test_route_reads_stdin_and_a_missing_config_is_one_line() -> None:
    item = json.dumps({"id": "a", "modality": "photo", "language": "en", "region": "us"})
    done = run("route", "--config", EXAMPLE, "-", stdin=item + "\n")
    assert done.returncode == 0 and json.loads(done.stdout)["queue"] == "photo_standard"
    missing = run("route", "--config", "/nonexistent.toml", "-", stdin="")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "/nonexistent.toml: (file): No such file or directory"


def test_a_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    latin = tmp_path / "latin.toml"
    latin.write_bytes("# caf\xe9\n".encode("latin-1") + Path(EXAMPLE).read_bytes())
    checked = run("check-config", str(latin))
    assert checked.returncode == 1
    assert checked.stderr.strip() == f"{latin}: (file): not UTF-8 text (byte 5 is 0xe9)"
    # Found by a probe: behind a byte-order mark the byte named was 3 early (the mark's length).
    latin.write_bytes(b"\xef\xbb\xbf" + latin.read_bytes())
    assert run("check-config", str(latin)).stderr.strip() == f"{latin}: (file): not UTF-8 text (byte 8 is 0xe9)"
    items = tmp_path / "items.jsonl"
    items.write_bytes(b'{"id": "caf\xe9"}\n')
    for routed in (run("route", "--config", EXAMPLE, str(items)), run_bytes("route", "--config", EXAMPLE, "-")):
        assert routed.returncode == 1 and "not UTF-8 text" in routed.stderr and "Traceback" not in routed.stderr
        assert routed.stderr.count("\n") == 1


def run_bytes(*args: str) -> subprocess.CompletedProcess[str]:
    """`run` with bytes on stdin that are not UTF-8."""
    done = subprocess.run([QUEUEOPT, *args], capture_output=True, input=b"caf\xe9\n", timeout=60, check=False)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def test_a_byte_order_mark_and_unicode_line_separators_in_strings_are_read_as_text(tmp_path: Path) -> None:
    marked = tmp_path / "marked.toml"
    marked.write_bytes(b"\xef\xbb\xbf" + Path(EXAMPLE).read_bytes())
    assert run("check-config", str(marked)).returncode == 0
    items = tmp_path / "items.jsonl"
    item = {"id": "a", "modality": "photo", "language": "en", "region": "us", "attributes": {"note": "x\u2028y\x85z"}}
    items.write_text("\ufeff" + json.dumps(item, ensure_ascii=False) + "\n", encoding="utf-8")
    done = run("route", "--config", EXAMPLE, str(items))
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["a"]


def test_a_usage_mistake_is_one_line_and_exit_status_2() -> None:
    scenario = str(REPO / "examples" / "scenarios" / "mmc.toml")
    for args, reason in [
        (("simulate", scenario, "--out", "/nonexistent", "--scale", "0"), "Invalid value for '--scale'"),
        (("simulate", scenario), "Missing option '--out'"),
        (("nosuch",), "No such command 'nosuch'"),
        (("serve", "--port", "70000"), "Invalid value for '--port'"),
    ]:
        done = run(*args)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and reason in done.stderr and "--help')" in done.stderr
    bare = run()
    assert bare.returncode == 2 and "Usage: queueopt" in bare.stdout and bare.stderr == ""


def test_route_reads_numbers_as_the_api_does(tmp_path: Path) -> None:
    items = tmp_path / "items.jsonl"
    item = {"id": "a", "modality": "text", "language": "en", "region": "us"}
    items.write_text("\n".join(json.dumps(item | change) for change in ({"reports": True}, {"reports": 3})) + "\n")
    done = run("route", "--config", EXAMPLE, str(items))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"{items}:1: reports: Input should be a valid integer"]
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["a"]


def test_check_config_warns_about_steps_that_relax_residency_clearance_or_certification(tmp_path: Path) -> None:
    """Found by a probe: a step relaxing clearance on the child-safety queue, or region on livestream, passed
    without a word (and the example config relaxed region)."""
    risky = tmp_path / "risky.toml"
    text = (REPO / "examples" / "ops.toml").read_text()
    cleared = 'requires = { policy_areas = ["child_safety"], clearance = ["csam"] }\n'
    relaxing = cleared + 'escalation = [{ after_s = 600, relax = ["clearance", "policy_areas", "language"] }]\n'
    risky.write_text(text.replace(cleared, relaxing).replace('relax = ["language"] }]', 'relax = ["region"] }]', 1))
    appeals = '[[queues]]\nname = "appeals"\n'
    risky.write_text(
        risky.read_text().replace(appeals, appeals + 'escalation = [{ after_s = 3600, relax = ["policy_areas"] }]\n')
    )
    done = run("check-config", str(risky))
    assert done.returncode == 0, done.stderr
    warnings = done.stderr.splitlines()
    assert [line.split(": queue ")[0] for line in warnings] == [
        f"{risky}: warning: queues.0.escalation.0",
        f"{risky}: warning: queues.0.escalation.0",
        f"{risky}: warning: queues.1.escalation.0",
        f"{risky}: warning: queues.4.escalation.0",
    ]
    assert "without the queue's clearance tiers (csam)" in warnings[0]
    assert "not certified for a task's own policy area, nor for child_safety" in warnings[1]
    assert "relaxes region after 900 s" in warnings[2] and "data residency" in warnings[2]
    assert "'appeals' relaxes policy_areas after 3600 s" in warnings[3]  # no certification of its own, but the task's


def test_python_dash_m_runs_the_command_as_the_script_does() -> None:
    """Found by a probe: `python -m queueopt.cli check-config ...` exited 0 having done nothing."""
    for module in ("queueopt", "queueopt.cli"):
        done = subprocess.run(
            [sys.executable, "-m", module, "check-config", EXAMPLE], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0 and done.stdout.strip() == f"{EXAMPLE}: ok (15 queues, 19 rules)", done.stderr
