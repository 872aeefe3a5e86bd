import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from queueopt.sim import commands
from queueopt.sim.stats import Estimate

from .helpers import SCENARIOS


@pytest.fixture()
def app() -> typer.Typer:
    application = typer.Typer(pretty_exceptions_enable=False)

    @application.callback()
    def _root() -> None:
        """queueopt"""

    commands.register(application)
    return application


def _small(
    tmp_path: Path, name: str = "small.toml", seed: int = 1, count: int = 2, ops_change: tuple[str, str] | None = None
) -> Path:
    """A short M/M/2 scenario; with `ops_change` (old, new), over a copy of its ops config with old replaced."""
    ops = SCENARIOS / "ops_single_queue.toml"
    if ops_change is not None:
        changed = ops.read_text().replace(*ops_change)
        assert changed != ops.read_text()
        ops = tmp_path / "ops.toml"
        ops.write_text(changed)
    text = (SCENARIOS / "mmc.toml").read_text()
    text = text.replace('ops_config = "ops_single_queue.toml"', f'ops_config = "{ops}"')
    text = text.replace("horizon_s = 500000", "horizon_s = 4000").replace("warmup_s = 25000", "warmup_s = 400")
    text = text.replace("replications = 10", "replications = 3").replace("seed = 1", f"seed = {seed}")
    text = text.replace("count = 10", f"count = {count}").replace("rate_per_hour = 540", "rate_per_hour = 60")
    path = tmp_path / name
    path.write_text(text)
    return path


def test_simulate_writes_summary_and_report(app: typer.Typer, tmp_path: Path) -> None:
    scenario = _small(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--out", str(out), "-s", "fifo", "-s", "optimal"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["strategies"]) == {"fifo", "optimal"}
    sla = summary["strategies"]["fifo"]["kpis"]["overall.sla_attainment"]
    assert 0.0 <= sla["mean"] <= 1.0 and sla["low"] <= sla["mean"] <= sla["high"]
    page = (out / "report.html").read_text()
    assert summary["paired"]["baseline"] == "fifo" and set(summary["paired"]["strategies"]) == {"optimal"}
    assert page.count("data:image/png;base64,") == 8  # backlog, waits, SLA per strategy; the comparison, paired
    assert "optimal - fifo (paired, same random numbers): sla_attainment " in result.output
    assert "these, not overlapping intervals above, tell whether strategies differ" in result.output
    assert "wrote" in result.output


def test_bad_scenario_is_one_line_per_problem(app: typer.Typer, tmp_path: Path) -> None:
    bad = _small(tmp_path, "bad.toml")
    bad.write_text(bad.read_text().replace("rate_per_hour = 60", "rate_per_hour = -1"))
    result = CliRunner().invoke(app, ["simulate", str(bad), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "arrivals.0.rate_per_hour" in result.output
    assert "Traceback" not in result.output


def test_an_unwritable_out_folder_stops_the_run_before_it_starts(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "out"
    result = CliRunner().invoke(app, ["simulate", str(_small(tmp_path)), "--out", str(out)])
    assert result.exit_code == 1
    assert result.output.startswith("queueopt: out: cannot write to") and result.output.count("\n") == 1
    assert "simulating" not in result.output


_SCALE_RANGE = "Invalid value for '--scale': expected a number from 1e-06 to 1,000, got"


def _said(output: str) -> str:
    """A usage error's words without the box and line breaks typer's panel sets them in."""
    return " ".join(output.replace("│", " ").split())


@pytest.mark.parametrize(
    ("scale", "reason"),
    [
        ("1000", "roster.0.count"),
        ("inf", f"{_SCALE_RANGE} 'inf'"),
        # Found by a probe: typer's own range check said "Input should be less than or equal to 1000" of a NaN.
        ("nan", f"{_SCALE_RANGE} 'nan'"),
        ("0", f"{_SCALE_RANGE} '0'"),
        ("many", "Invalid value for '--scale': expected a number, got 'many'"),
    ],
)
def test_a_scale_out_of_range_is_refused_in_one_line(app: typer.Typer, tmp_path: Path, scale: str, reason: str) -> None:
    scenario = _small(tmp_path, count=2000)  # 2,000 moderators times 1,000: more than a scenario may have
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--out", str(tmp_path), "--scale", scale])
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.output
    assert reason in _said(result.output)


def test_a_horizon_that_is_no_finite_number_is_refused_naming_it(app: typer.Typer, tmp_path: Path) -> None:
    scenario = str(_small(tmp_path))
    result = CliRunner().invoke(app, ["compare", scenario, scenario, "-n", "2", "--horizon-s", "nan"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--horizon-s': expected a number from 1 to 31,622,400, got 'nan'" in _said(result.output)


@pytest.mark.parametrize("command", ["simulate", "compare", "staff"])
def test_replications_beyond_the_scenario_cap_are_refused_in_one_line(
    app: typer.Typer, tmp_path: Path, command: str
) -> None:
    scenario = str(_small(tmp_path))
    files = {"simulate": [scenario, "--out", str(tmp_path / "out")], "compare": [scenario, scenario]}
    result = CliRunner().invoke(app, [command, *files.get(command, [scenario]), "-n", "100001"])
    assert result.exit_code == 2, result.output
    assert "100000" in result.output and "Simulated" not in result.output


def _with_trace(tmp_path: Path, rows: str) -> Path:
    """The small scenario replaying `rows` (CSV) instead of drawing its arrivals."""
    (tmp_path / "trace.csv").write_text("id,arrive_at_s,modality,language,region,signals.spam,signals.gore\n" + rows)
    scenario = _small(tmp_path)
    text = scenario.read_text()
    start, end = text.index("[[arrivals]]"), text.index("[[roster]]")
    scenario.write_text('trace = "trace.csv"\n' + text[:start] + text[end:])
    return scenario


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ("a1,10,text,en,us,,\na2,abc,hologram,en,us,,\n", "trace.csv: line 3: arrive_at_s"),
        ("a1,10,text,en,us,0.5,\na2,20,text,en,us,,0.9\n", "trace.csv: item 'a2': signals.gore: not a policy area"),
    ],
)
def test_a_bad_trace_stops_simulate_before_the_run(app: typer.Typer, tmp_path: Path, rows: str, problem: str) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(_with_trace(tmp_path, rows)), "--out", str(out)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert problem in result.output
    assert not out.exists(), "a refused run leaves no output folder"


def test_a_good_trace_replays(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["simulate", str(_with_trace(tmp_path, "a1,1000,text,en,us,0.5,\n")), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["strategies"]["fifo"]["kpis"]["overall.items"]["mean"] == 1


def test_staff_plans_a_trace(app: typer.Typer, tmp_path: Path) -> None:
    # A trace was refused with no streams beside it, and ignored with some.
    result = CliRunner().invoke(app, ["staff", str(_with_trace(tmp_path, "a1,1000,text,en,us,,\n"))])
    assert result.exit_code == 1, result.output
    assert "main: sla_target 0.8 is out of reach at any headcount" in result.output


def test_a_trace_past_the_horizon_is_refused_and_rows_past_it_are_counted(app: typer.Typer, tmp_path: Path) -> None:
    """Found by a probe: a trace whose rows all fell after the horizon (Unix timestamps, say) ran an empty day and
    reported harmful views 0 with exit 0."""
    late = CliRunner().invoke(app, ["simulate", str(_with_trace(tmp_path, "a1,1.7e9,text,en,us,0.5,\n")), "-o", "o"])
    assert late.exit_code == 1 and isinstance(late.exception, SystemExit), late.output
    assert "none of its 1 rows falls before the horizon" in late.output and "1.7e+09" in late.output
    rows = "a1,1000,text,en,us,0.5,\na2,1.7e9,text,en,us,0.5,\n"
    some = CliRunner().invoke(app, ["simulate", str(_with_trace(tmp_path, rows)), "-o", str(tmp_path / "out")])
    assert some.exit_code == 0, some.output
    assert "1 row(s) at or after the horizon" in some.output


def test_a_report_file_that_is_a_folder_stops_the_run_and_writes_nothing(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "report.html").mkdir(parents=True)
    result = CliRunner().invoke(app, ["simulate", str(_small(tmp_path)), "--out", str(out)])
    assert result.exit_code == 1 and "report.html exists and is not a file" in result.output
    assert not (out / "summary.json").exists()


def test_unknown_strategy_exits_1(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", str(_small(tmp_path)), "--out", str(tmp_path), "-s", "random"])
    assert result.exit_code == 1
    assert "strategy: expected one of" in result.output


def test_compare_pairs_replications(app: typer.Typer, tmp_path: Path) -> None:
    two, three = _small(tmp_path, "two.toml", count=2), _small(tmp_path, "three.toml", count=3)
    result = CliRunner().invoke(app, ["compare", str(two), str(three)])
    assert result.exit_code == 0, result.output
    assert "overall.wait_mean_s" in result.output
    assert "A - B" in result.output


def test_compare_warns_when_seeds_differ(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["compare", str(_small(tmp_path, "a.toml")), str(_small(tmp_path, "b.toml", 9))])
    assert result.exit_code == 0
    assert "seeds differ" in result.output


def test_compare_warns_when_the_scenarios_have_different_queues_or_streams(app: typer.Typer, tmp_path: Path) -> None:
    renamed = _small(tmp_path, "renamed.toml")
    renamed.write_text(renamed.read_text().replace('name = "item"', 'name = "post"'))
    result = CliRunner().invoke(app, ["compare", str(_small(tmp_path)), str(renamed), "--all"])
    assert result.exit_code == 0, result.output
    assert "warning: queues or arrival streams in one scenario only (item, post)" in result.output


def test_compare_warns_when_the_measured_windows_differ(app: typer.Typer, tmp_path: Path) -> None:
    longer = _small(tmp_path, "longer.toml")
    longer.write_text(longer.read_text().replace("horizon_s = 4000", "horizon_s = 5000"))
    result = CliRunner().invoke(app, ["compare", str(_small(tmp_path)), str(longer)])
    assert result.exit_code == 0 and "measured windows differ (400-4000 s vs 400-5000 s)" in result.output


def test_staff_prints_the_plan_and_checks_it(app: typer.Typer, tmp_path: Path) -> None:
    # mmc.toml's own SLA (60 s at 80% with 60 s handling) is out of reach; five minutes is not.
    scenario = _small(tmp_path, ops_change=("sla_s = 60", "sla_s = 300"))
    result = CliRunner().invoke(app, ["staff", str(scenario), "--check", "-n", "2"])
    assert result.exit_code == 0, result.output
    assert "Erlang C" in result.output and "pooled by SLA" in result.output
    assert "Plan simulated hour by hour, 2 replication(s)" in result.output
    assert "One moderator fewer is not judged from fewer than 10 replications" in result.output


def test_staff_says_when_the_wellbeing_rules_keep_a_plan_behind_its_severe_items(
    app: typer.Typer, tmp_path: Path
) -> None:
    """Every item severe, two severe items an hour a moderator: Erlang's plan of the handling alone falls behind."""
    severe = "severe = true\n\n[[queues]]"
    scenario = _small(tmp_path, ops_change=("severity = 1.0\n\n[[queues]]", f"severity = 1.0\n{severe}"))
    text = scenario.read_text().replace(
        "region = { us = 1 }", "region = { us = 1 }\nsignals.spam = { score = { a = 50, b = 1 } }"
    )
    text = text.replace(
        'modalities = ["text"]', 'modalities = ["text"]\nsevere_per_hour = 2\ncooldown_s = 600\npolicy_areas = ["spam"]'
    )
    scenario.write_text(text)
    ops = tmp_path / "ops.toml"
    ops.write_text(ops.read_text().replace("sla_s = 60", "sla_s = 300"))  # a target in reach, so a plan to judge
    result = CliRunner().invoke(app, ["staff", str(scenario)])
    assert result.exit_code == 0, result.output
    assert "main: too few to keep up with its severe items, one at a time per moderator" in result.output


def test_staff_check_of_a_one_moderator_plan_says_one_fewer_was_not_run(app: typer.Typer, tmp_path: Path) -> None:
    scenario = _small(tmp_path, ops_change=("sla_s = 60", "sla_s = 600"))
    scenario.write_text(scenario.read_text().replace("rate_per_hour = 60", "rate_per_hour = 6"))
    result = CliRunner().invoke(app, ["staff", str(scenario), "--check", "-n", "2"])
    assert result.exit_code == 1, result.output  # a day's plan checked on its first hour: the others go unjudged
    assert result.stderr.startswith("queueopt: plan: not shown to meet every target in simulation (0 queue-hour(s)")
    assert "Plan simulated hour by hour" in result.output
    assert "not run" in result.output and "One moderator fewer met" not in result.output
    assert "One moderator fewer is not judged" not in result.output  # nothing was run at one fewer to judge
    # 01h is in the window (400-4000 s) but drew no item in 400 s at 6 an hour: nothing to say of the horizon
    assert "Not judged: hour(s) 01h had no items in the measured window (400-4000 s)." in result.output
    assert "outside the measured window" not in result.output


def test_staff_check_of_a_day_says_the_warm_up_hides_its_first_hour(app: typer.Typer, tmp_path: Path) -> None:
    """Found by a review: a one-day scenario with an hour's warm-up can never have its 00h judged, so `staff --check`
    exits 1 on it every time; the command says which hours fall outside the window and how to reach them."""
    scenario = _small(tmp_path, ops_change=("sla_s = 60", "sla_s = 600"))
    text = scenario.read_text().replace("rate_per_hour = 60", "rate_per_hour = 6")
    text = text.replace("horizon_s = 4000", "horizon_s = 86400").replace("warmup_s = 400", "warmup_s = 3600")
    scenario.write_text(text)
    result = CliRunner().invoke(app, ["staff", str(scenario), "--check", "-n", "2"])
    assert result.exit_code == 1, result.output
    assert (
        "Not judged: hour(s) 00h lie outside the measured window (3600-86400 s, warmup_s to horizon_s); a horizon_s "
        "at least 86400 s past warmup_s judges every hour of the day." in " ".join(result.output.split())
    )


@pytest.mark.parametrize("check", [[], ["--check"]])
def test_staff_reports_an_unreachable_target_and_exits_1(app: typer.Typer, tmp_path: Path, check: list[str]) -> None:
    """Found by a review: a plan with every queue out of reach printed totals of 0 and exited 0, where a queue no
    group may take exits 1."""
    result = CliRunner().invoke(app, ["staff", str(_small(tmp_path)), *check])
    assert result.exit_code == 1, result.output
    assert "main: sla_target 0.8 is out of reach at any headcount" in result.output
    assert result.stderr == (
        "queueopt: sla_target: no headcount sized for main (out of reach at any headcount); the plan leaves them out\n"
    )
    assert "Plan simulated" not in result.output


def test_staff_does_not_call_a_fixed_handling_time_inside_the_sla_out_of_reach(
    app: typer.Typer, tmp_path: Path
) -> None:
    scenario = _small(tmp_path, ops_change=("sla_target = 0.8", "sla_target = 0.95"))
    text = scenario.read_text().replace('distribution = "exponential", mean_s = 60', "median_s = 30, sigma = 0")
    assert text != scenario.read_text()
    scenario.write_text(text)  # all within 60 s, the exponential of mean 30 s 86.5%
    result = CliRunner().invoke(app, ["staff", str(scenario), "--check"])
    assert result.exit_code == 1, result.output
    assert "out of reach" not in result.output
    assert "main: sla_target 0.95 is beyond what Erlang C or A can size" in " ".join(result.output.split())
    assert "sla_target: no headcount sized for main (beyond Erlang C and A)" in result.stderr


def test_staff_with_patience_too_long_for_erlang_a_plans_by_erlang_c(app: typer.Typer, tmp_path: Path) -> None:
    scenario = _small(tmp_path, ops_change=("sla_s = 60", "sla_s = 600"))
    scenario.write_text(scenario.read_text().replace("rate_per_hour = 60", "rate_per_hour = 600\npatience_s = 1e9"))
    result = CliRunner().invoke(app, ["staff", str(scenario)])
    assert result.exit_code == 0, result.output
    assert "patience (mean 1e+09 s) is too long for Erlang A to solve" in " ".join(result.output.split())
    assert "sized by Erlang C, its limit" in " ".join(result.output.split())


def test_staff_without_demand_checks_nothing(app: typer.Typer, tmp_path: Path) -> None:
    scenario = _small(tmp_path)
    scenario.write_text(scenario.read_text().replace("rate_per_hour = 60", "rate_per_hour = 0"))
    result = CliRunner().invoke(app, ["staff", str(scenario), "--check"])
    assert result.exit_code == 0, result.output
    assert "Nothing to simulate: no items reach a queue." in result.output


def test_staff_names_a_queue_no_group_may_take_and_exits_1(app: typer.Typer, tmp_path: Path) -> None:
    scenario = _small(tmp_path)
    scenario.write_text(scenario.read_text().replace("languages = { en = 1.0 }", "languages = { fr = 1.0 }"))
    result = CliRunner().invoke(app, ["staff", str(scenario)])
    assert result.exit_code == 1
    assert "- main: no roster group may take up to 60 items an hour routed here" in result.output
    assert "roster: no group may take some items of main" in result.output


def test_staff_sizes_a_load_of_whole_erlangs_up_to_rounding(app: typer.Typer, tmp_path: Path) -> None:
    # Found by a probe: 7,380 items an hour of 60 s is 123 Erlangs, computed as 122.99999999999999; the pool's search
    # tried 123 servers first and `staff` printed erlang_c's traceback.
    scenario = _small(tmp_path, ops_change=("sla_s = 60", "sla_s = 600"))
    scenario.write_text(scenario.read_text().replace("rate_per_hour = 60", "rate_per_hour = 7380"))
    result = CliRunner().invoke(app, ["staff", str(scenario)])
    assert result.exit_code == 0, result.output
    assert "│ main              │ Erlang C │ 124 │" in result.output


def test_staff_plans_a_platform_too_large_to_simulate(app: typer.Typer, tmp_path: Path) -> None:
    """Found by a probe: a million items an hour could not be planned for, refused by the bound on the items a
    replication draws up front, which a plan (sampling a few thousand) never draws; a check of it still is."""
    scenario = _small(tmp_path, ops_change=("sla_s = 60", "sla_s = 300"))
    scenario.write_text(scenario.read_text().replace("rate_per_hour = 60", "rate_per_hour = 2e7"))
    planned = CliRunner().invoke(app, ["staff", str(scenario)])
    assert planned.exit_code == 0, planned.output
    assert "│ main              │ Erlang C │ 333334 │ 333334 │" in planned.output  # 333,333 erlangs offered
    for refused in (["staff", str(scenario), "--check"], ["simulate", str(scenario), "--out", str(tmp_path / "o")]):
        result = CliRunner().invoke(app, refused)
        assert result.exit_code == 1 and "items per replication, more than 20,000,000" in result.output


def test_staff_check_refuses_a_whole_roster(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["staff", str(SCENARIOS / "example_day.toml"), "--check"])
    assert result.exit_code == 1
    assert "one roster group and one queue" in result.output


def test_the_outputs_say_the_run_was_scaled(app: typer.Typer, tmp_path: Path) -> None:
    """Found by a probe: a 1% day's summary and report said only horizon, warm-up and seed, so its cost and items
    read like a whole day's. The small scenario's 2 moderators at 2.6 round up to 6."""
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(_small(tmp_path)), "--out", str(out), "--scale", "2.6"])
    assert result.exit_code == 0, result.output
    run = json.loads((out / "summary.json").read_text())["scenario"]
    assert run == {"horizon_s": 4000.0, "warmup_s": 400.0, "seed": 1, "scale": 2.6, "moderators": 6}
    assert "scaled by 2.6 (6 moderators)" in (out / "report.html").read_text()


def test_horizon_option_shortens_the_run(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", str(_small(tmp_path)), "--out", str(out), "--horizon-s", "2000"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "summary.json").read_text())["scenario"]["horizon_s"] == 2000.0
    refused = CliRunner().invoke(app, ["simulate", str(_small(tmp_path)), "--out", str(out), "--horizon-s", "100"])
    assert refused.exit_code == 1
    assert "must exceed the scenario's warmup_s" in refused.output
    longer = CliRunner().invoke(app, ["simulate", str(_small(tmp_path)), "--out", str(out), "--horizon-s", "3e7"])
    assert longer.exit_code == 1 and "be at most its horizon_s (4000)" in longer.output  # the file's item cap holds


@pytest.mark.parametrize("command", ["simulate", "compare"])
def test_a_shortened_scaled_run_leaves_out_the_bursts_it_ends_before(
    app: typer.Typer, tmp_path: Path, command: str
) -> None:
    """Found by a probe: `--scale` with `--horizon-s` ending before the file's evening burst was refused for a burst
    "at or after horizon_s", a horizon the file does not have; the shortened run never reaches the burst."""
    scenario = _small(tmp_path)
    scenario.write_text(
        scenario.read_text() + "\n[[bursts]]\nstart_s = 1000\nlength_s = 500\nmultiplier = 3\n"
        "\n[[bursts]]\nstart_s = 3000\nlength_s = 500\nmultiplier = 3\n"
    )
    files = [str(scenario), "--out", str(tmp_path / "out")] if command == "simulate" else [str(scenario)] * 2
    result = CliRunner().invoke(app, [command, *files, "--scale", "2", "--horizon-s", "2000", "-n", "2"])
    assert result.exit_code == 0, result.output
    assert [burst.start_s for burst in commands._load(scenario, 2.0, 2000.0).bursts] == [1000.0]


@pytest.mark.parametrize(
    ("option", "code", "said"),
    [(["-n", "1"], 2, "Invalid value for '--replications'"), ([], 1, "needs at least 2 replications; give -n 2")],
)
def test_compare_refuses_fewer_than_two_pairs_before_it_runs(
    app: typer.Typer, tmp_path: Path, option: list[str], code: int, said: str
) -> None:
    """A paired interval needs two pairs: `-n 1` is a usage error, as `compare --help`'s range says (the probe found
    the help offering 1), and files of one replication each, without `-n`, are refused saying what to give."""
    scenario = _small(tmp_path)
    scenario.write_text(scenario.read_text().replace("replications = 3", "replications = 1"))
    result = CliRunner().invoke(app, ["compare", str(scenario), str(scenario), *option])
    assert result.exit_code == code and said in " ".join(result.output.split()), result.output
    assert "comparing" not in result.output


def test_a_report_that_cannot_be_written_leaves_the_folder_as_it_was(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("earlier run")
    (out / ".report.html.part").mkdir()  # the report cannot be written, as on a full disk
    result = CliRunner().invoke(app, ["simulate", str(_small(tmp_path)), "--out", str(out), "-n", "1"])
    assert result.exit_code == 1 and "out: cannot write the report" in result.output
    assert (out / "summary.json").read_text() == "earlier run" and not (out / "report.html").exists()
    assert sorted(path.name for path in out.iterdir()) == [".report.html.part", "summary.json"]


def test_a_trace_is_never_scaled_and_an_empty_one_is_refused(app: typer.Typer, tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("id,arrive_at_s,modality,language,region\na,1,text,en,us\n", encoding="utf-8")
    head, rest = _small(tmp_path).read_text().split("[[arrivals]]")
    replay = tmp_path / "replay.toml"
    replay.write_text(f"trace = '{trace}'\n{head}[[roster]]{rest.split('[[roster]]')[1]}")
    scaled = CliRunner().invoke(app, ["simulate", str(replay), "--out", str(tmp_path / "o"), "--scale", "0.1"])
    assert scaled.exit_code == 1 and "scale: a trace is replayed as recorded" in scaled.output
    trace.write_text("id,arrive_at_s,modality,language,region\n", encoding="utf-8")
    empty = CliRunner().invoke(app, ["simulate", str(replay), "--out", str(tmp_path / "o")])
    assert empty.exit_code == 1 and f"{trace}: (file): no items to replay" in empty.output


POOL = """
strategy = "fifo"
horizon_s = 86400
warmup_s = 3600

[ops]
policy_areas = [{ name = "spam", severity = 1.0 }]
queues = [{ name = "video", sla_s = 600, sla_target = 0.9 }, { name = "text", sla_s = 600, sla_target = 0.9 }]
rules = [{ name = "video", queue = "video", when = { modality = ["video"] } }, { name = "rest", queue = "text" }]

[[arrivals]]
name = "text"
rate_per_hour = 360
modality = { text = 1 }
language = { en = 1 }
region = { us = 1 }

[[arrivals]]
name = "video"
rate_per_hour = 36
modality = { video = 1 }
language = { en = 1 }
region = { us = 1 }

[[roster]]
name = "pool"
count = 8
vendor = "inhouse"
site = "hq"
regions = ["us"]
languages = { en = 1.0 }
modalities = ["text", "video"]
speed = { text = { distribution = "exponential", mean_s = 20 }, video = { distribution = "exponential", mean_s = 250 } }
"""


@pytest.mark.parametrize(
    ("video", "said"), [(0.95, "(confirmed in simulation"), (0.85, "saves nothing that simulation")]
)
def test_staff_claims_a_pooled_saving_only_when_the_check_confirms_it(
    app: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, video: float, said: str
) -> None:
    from queueopt.sim import staffing_check

    def simulated(_: object, planned: list[int], *__: object) -> staffing_check.PlanCheck:
        shares = {"video": Estimate(video, 0.01, 0.0, 1.0), "text": Estimate(0.99, 0.01, 0.0, 1.0)}
        hours = [(hour, servers) for hour, servers in enumerate(planned) if servers]
        intervals = [
            staffing_check.IntervalCheck(queue, hour, servers, 0.9, share, None)
            for hour, servers in hours
            for queue, share in shares.items()
        ]
        return staffing_check.PlanCheck(planned, intervals, [], 4)

    monkeypatch.setattr(staffing_check, "check", simulated)
    (tmp_path / "pool.toml").write_text(POOL)
    result = CliRunner().invoke(app, ["staff", str(tmp_path / "pool.toml"), "--check"])
    assert result.exit_code == (0 if video >= 0.9 else 1), result.output  # a pipeline may gate on the check
    assert (
        "queueopt: plan: not shown to meet every target in simulation (24 queue-hour(s) missed, 0 unsure, 0 "
        in result.stderr
    ) == (video < 0.9)
    assert "Plan simulated hour by hour, 4 replication(s)" in result.output and said in result.output
    assert ("Pooling queues that share an SLA saves 24 moderator-hours" in result.output) == (video >= 0.9)
    assert ("Met: in every hour" in result.output) == (video >= 0.9)
    assert ("Not met: 24 queue-hour(s) missed (CI below the target), lowest video at 00h 0.85" in result.output) == (
        video < 0.9
    )


def test_simulate_and_compare_warn_about_a_queue_nobody_reviews(app: typer.Typer, tmp_path: Path) -> None:
    scenario = _small(tmp_path)
    scenario.write_text(scenario.read_text().replace("languages = { en = 1.0 }", "languages = { fr = 1.0 }"))
    result = CliRunner().invoke(app, ["simulate", str(scenario), "--out", str(tmp_path / "out"), "-n", "2"])
    assert result.exit_code == 0, result.output
    assert "decided_within_sla_share 0 [0, 0], abandoned_share 0 [0, 0], open_share 1 [1, 1]" in result.output
    assert "warning: fifo: queue main: 100% of its items are undecided at the horizon" in result.output
    compared = CliRunner().invoke(app, ["compare", str(scenario), str(scenario), "-n", "2"])
    assert compared.exit_code == 0, compared.output
    assert "warning: B: queue main: 100% of its items are undecided at the horizon" in compared.output


@pytest.mark.parametrize(("scale", "warned"), [(0.01, True), (0.1, False)])
def test_scale_warns_when_rounding_groups_up_overstaffs_the_copy(
    capsys: pytest.CaptureFixture[str], scale: float, warned: bool
) -> None:
    """Found by a review: the example day at 0.01 silently had 24 moderators where 0.01 x 2,000 is 20."""
    copy = commands._load(SCENARIOS / "example_day.toml", scale)
    headcount = sum(group.count for group in copy.roster)
    err = capsys.readouterr().err
    if warned:
        assert headcount == 24
        assert err == (
            "warning: --scale 0.01 rounds each roster group up to whole moderators: 24 where 0.01 x 2000 is 20 "
            "(+20%); the copy is better staffed than the day\n"
        )
    else:
        assert err == ""
