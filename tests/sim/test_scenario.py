import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad

from queueopt.config import ConfigError, load_config
from queueopt.domain import Modality, Source
from queueopt.enqueue.router import UNLINKED
from queueopt.sim.scenario import (
    HandlingTime,
    LogisticCalibration,
    PowerCalibration,
    cumulative_views,
    load_scenario,
    mix,
)
from queueopt.sim.trace import check_trace, load_trace

from .helpers import mm_c

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "examples" / "scenarios"
SINGLE_QUEUE = SCENARIOS / "ops_single_queue.toml"

BASE = f"""
ops_config = "{SINGLE_QUEUE}"
horizon_s = 3600

[[arrivals]]
name = "posts"
rate_per_hour = 100
modality = {{ text = 1 }}
language = {{ en = 3, es = 1 }}
region = {{ us = 1 }}

[[roster]]
name = "team"
count = 2
vendor = "acme"
site = "lisbon"
regions = ["us"]
languages = {{ en = 1.0 }}
modalities = ["text"]
speed = {{ text = {{ median_s = 60 }} }}
"""


def _write(tmp_path: Path, text: str, name: str = "scenario.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert caught.value.source == str(path)
    return caught.value.problems


@pytest.mark.parametrize("name", ["mmc", "erlang_a", "two_class"])
def test_theory_scenarios_load(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.toml")
    assert scenario.ops_config is not None and scenario.ops_config.is_file()
    assert scenario.strategy in ("fifo", "priority")
    for group in scenario.roster:
        assert all(handling.distribution == "exponential" for handling in group.speed.values())


def test_dedicated_ops_configs_validate() -> None:
    for name in ("ops_single_queue", "ops_two_class"):
        config = load_config(SCENARIOS / f"{name}.toml")
        assert [queue.name for queue in config.queues] == ["main"]


def test_mmc_scenario_is_the_documented_system() -> None:
    scenario = load_scenario(SCENARIOS / "mmc.toml")
    [arrival] = scenario.arrivals
    [group] = scenario.roster
    mu = 1 / group.speed[Modality.TEXT].base_mean_s
    assert group.count == 10
    assert arrival.rates_per_s == (pytest.approx(0.9 * 10 * mu),) * 24
    assert arrival.patience_rate is None


def test_example_day_loads() -> None:
    if not (REPO / "examples" / "ops.toml").is_file():
        pytest.skip("examples/ops.toml is not written yet")
    scenario = load_scenario(SCENARIOS / "example_day.toml")
    assert scenario.strategy == "optimal"
    assert scenario.horizon_s == 86400 and scenario.warmup_s == 3600
    assert len(scenario.arrivals) >= 4 and scenario.bursts
    assert len({group.vendor for group in scenario.roster}) >= 2
    languages = set().union(*(arrival.language for arrival in scenario.arrivals))
    for hour in range(24):
        on_shift = [group for group in scenario.roster if group.on_shift(hour * 3600.0 + 1800.0)]
        assert languages <= set().union(*(group.languages for group in on_shift)), hour
        assert any("csam" in group.clearance for group in on_shift), hour


def test_relative_ops_path_and_inline_ops(tmp_path: Path) -> None:
    (tmp_path / "ops.toml").write_text(SINGLE_QUEUE.read_text(encoding="utf-8"), encoding="utf-8")
    scenario = load_scenario(_write(tmp_path, BASE.replace(str(SINGLE_QUEUE), "ops.toml")))
    assert scenario.ops_config == tmp_path / "ops.toml"
    inline = (
        BASE.replace(f'ops_config = "{SINGLE_QUEUE}"', "")
        + "\n[ops]\n"
        + SINGLE_QUEUE.read_text(encoding="utf-8").replace("[[", "[[ops.")
    )
    scenario = load_scenario(_write(tmp_path, inline, "inline.toml"))
    assert scenario.ops_config is None
    assert scenario.ops.queues[0].name == "main"


def test_field_errors_name_the_file_and_the_path(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace("rate_per_hour = 100", "rate_per_hour = -1"))
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert str(caught.value) == f"{path}: arrivals.0.rate_per_hour: Input should be greater than or equal to 0"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("es = 1", "es = 0", "arrivals.0.language.es: Input should be greater than 0"),
        (
            "modality = { text = 1 }",
            "modality = { hologram = 1 }",
            "arrivals.0.modality.hologram.[key]: Input should be",
        ),
        ("modality = { text = 1 }", "modality = {}", "arrivals.0.modality: Dictionary should have at least 1 item"),
        ("count = 2", "count = 0", "roster.0.count: Input should be greater than or equal to 1"),
        ("horizon_s = 3600", "horizon_s = 3600\nwarmup_s = 3600", "warmup_s: warmup_s must be less"),
        # Found by a probe: the run's backlog samples, a fraction of the horizon apart, were 0 s apart and never ended.
        ("horizon_s = 3600", "horizon_s = 5e-324", "horizon_s: Input should be greater than or equal to 1"),
        ("horizon_s = 3600", "horizon_s = 3600\nstrategy = 'random'", "strategy: Input should be 'fifo', 'priority'"),
        ("horizon_s = 3600", "horizon_s = 3600\ncolour = 'red'", "colour: Extra inputs are not permitted"),
        (
            "rate_per_hour = 100",
            "rate_per_hour = 100\nhourly_rates = [1.0]",
            "arrivals.0: give exactly one of rate_per_hour or hourly_rates",
        ),
        (
            "rate_per_hour = 100",
            "rate_per_hour = 100\nhourly_multipliers = [1.0, 2.0]",
            "arrivals.0: hourly_multipliers needs 24 values",
        ),
        (
            'site = "lisbon"',
            'site = "lisbon"\nshifts = [{ start_h = 25, end_h = 6 }]',
            "roster.0.shifts.0.start_h: Input should be less than 24",
        ),
        (
            'site = "lisbon"',
            'site = "lisbon"\nshifts = [{ start_h = 6, end_h = 6 }]',
            "roster.0.shifts.0: a shift must not start and end at the same hour",
        ),
        (
            'site = "lisbon"',
            'site = "lisbon"\nshifts = [{ start_h = 22, end_h = 6 }, { start_h = 5, end_h = 13 }]',
            "roster.0: shifts overlap",
        ),
        (
            'site = "lisbon"',
            'site = "lisbon"\nbreaks = { every_s = 600, length_s = 600 }',
            "roster.0.breaks: length_s must be shorter than every_s",
        ),
        (
            'modalities = ["text"]',
            'modalities = ["text", "video"]',
            "roster.0: speed has no handling time for modalities ['video']",
        ),
        # Found by a probe, each accepted and then ignored, or overflowing a KPI to infinity.
        (
            "speed = { text = { median_s = 60 } }",
            "speed = { text = { median_s = 60 }, photo = { median_s = 20 } }",
            "roster.0: speed has handling times for modalities the group does not review: ['photo']",
        ),
        ('site = "lisbon"', 'site = "lisbon"\nhourly_cost = 1e308', "roster.0.hourly_cost: Input should be less than"),
        (
            "horizon_s = 3600",
            "horizon_s = 3600\nbursts = [{ start_s = 0, length_s = 60, multiplier = 2, arrivals = [] }]",
            "bursts.0.arrivals: List should have at least 1 item",
        ),
        (
            "speed = { text = { median_s = 60 } }",
            'speed = { text = { distribution = "exponential", median_s = 60 } }',
            "roster.0.speed.text: an exponential handling time takes mean_s",
        ),
        # Wrong types are mistakes, not values to convert.
        ("horizon_s = 3600", "horizon_s = 3600\nseed = true", "seed: Input should be a valid integer"),
        ("count = 2", 'count = "5"', "roster.0.count: Input should be a valid integer"),
        ("horizon_s = 3600", 'horizon_s = "3600"', "horizon_s: Input should be a valid number"),
        ("horizon_s = 3600", "horizon_s = 3600\nreplications = 2.0", "replications: Input should be a valid integer"),
        # NaN is said to be one, not measured against a bound it fails (found by a probe: "less than 1").
        ("languages = { en = 1.0 }", "languages = { en = nan }", "roster.0.languages.en: Input should be a finite"),
        ('site = "lisbon"', 'site = "lisbon"\ncooldown_s = nan', "roster.0.cooldown_s: Input should be a finite"),
        ('site = "lisbon"', 'site = "lisbon"\naccuracy = { mean = nan }', "roster.0.accuracy.mean: Input should be a"),
        (
            'site = "lisbon"',
            'site = "lisbon"\nshifts = [{ start_h = nan, end_h = 6 }]',
            "roster.0.shifts.0.start_h: Input should be a finite number",
        ),
        (
            "rate_per_hour = 100",
            "rate_per_hour = 100\nduplicate_share = nan",
            "arrivals.0.duplicate_share: Input should be a finite number",
        ),
        (
            "horizon_s = 3600",
            "horizon_s = 3600\n[[bursts]]\nstart_s = 3600\nlength_s = 60\nmultiplier = 2",
            "(root): bursts.0 starts at 3600 s, at or after horizon_s (3600): it would change nothing",
        ),
        # Values that used to end a run in an overflow, an out-of-memory kill or a traceback.
        ("horizon_s = 3600", "horizon_s = 1e9", "horizon_s: Input should be less than or equal to 31622400"),
        ("rate_per_hour = 100", "rate_per_hour = 1e12", "(root): the arrivals make about"),
        (
            "rate_per_hour = 100",
            "rate_per_hour = 100\nduration_s = { median = 30, sigma = 30 }",
            "arrivals.0.duration_s.sigma: Input should be less than or equal to 5",
        ),
        (
            "horizon_s = 3600",
            "horizon_s = 3600\n[[bursts]]\nstart_s = 0\nlength_s = 60\nmultiplier = 1e300",
            "bursts.0.multiplier: Input should be less than or equal to 1000",
        ),
        # A group must make profiles the engine accepts: these stopped a run with a traceback, or were truncated.
        (
            "horizon_s = 3600",
            "horizon_s = 3600\ntick_s = 1e-4",
            "tick_s: Input should be greater than or equal to 0.01",
        ),
        ("count = 2", "count = 2\ncapacity = 75", "roster.0.capacity: Input should be less than or equal to 50"),
        ("count = 2", "count = 2\nsevere_per_hour = 2.5", "roster.0.severe_per_hour: Input should be a valid integer"),
        (
            "count = 2",
            "count = 2\ncooldown_s = 1e9",
            "roster.0.cooldown_s: Input should be less than or equal to 604800",
        ),
        ("count = 2", "count = 2\nclearance = ['nope']", "roster.0.clearance.0: unknown clearance tier 'nope'"),
        # Found by a review: a run that drew breaks until it ran out of memory, a median that overflowed its draw.
        (
            'site = "lisbon"',
            'site = "lisbon"\nbreaks = { every_s = 1e-9, length_s = 5e-10 }',
            "roster.0.breaks.every_s: Input should be greater than or equal to 300",
        ),
        (
            'site = "lisbon"',
            'site = "lisbon"\nbreaks = { every_s = 600, length_s = 0.01 }',
            "roster.0.breaks.length_s: Input should be greater than or equal to 60",
        ),
        (
            'site = "lisbon"',
            'site = "lisbon"\nbreaks = { every_s = 600, length_s = 60, phase = 1.0 }',
            "roster.0.breaks.phase: Input should be less than 1",
        ),
        (
            "count = 2",
            "count = 1000000\nbreaks = { every_s = 300, length_s = 60 }",
            "(root): the roster's shifts and breaks make about",
        ),
        (
            "rate_per_hour = 100",
            "rate_per_hour = 100\nduration_s = { median = 1e308, sigma = 5 }",
            "arrivals.0.duration_s: median must be at most 604800",
        ),
        (
            "rate_per_hour = 100",
            "rate_per_hour = 100\nviews_half_life_s = { median = 1e300 }",
            "arrivals.0.views_half_life_s: median must be at most 3.16224e+07",
        ),
    ],
)
def test_validation_problems(tmp_path: Path, old: str, new: str, problem: str) -> None:
    assert old in BASE
    problems = _problems(tmp_path, BASE.replace(old, new, 1))
    assert any(line.startswith(problem) for line in problems), problems


def test_cross_references_are_all_reported(tmp_path: Path) -> None:
    text = BASE.replace("region = { us = 1 }", "region = { us = 1 }\nsignals = { hate = { score = { a = 1, b = 9 } } }")
    text = text.replace('modalities = ["text"]', 'modalities = ["text"]\npolicy_areas = ["spam", "gore"]')
    text += "\n[[bursts]]\nstart_s = 0\nlength_s = 60\nmultiplier = 3\narrivals = ['posts', 'videos']\n"
    text += "\n" + BASE[BASE.index("[[roster]]") :]
    assert _problems(tmp_path, text) == [
        "roster.1.name: duplicate name 'team'",
        "arrivals.0.signals.hate: unknown policy area 'hate'",
        "roster.0.policy_areas.1: unknown policy area 'gore'",
        "bursts.0.arrivals.1: unknown arrival type 'videos'",
    ]


def test_ops_source_problems(tmp_path: Path) -> None:
    assert _problems(tmp_path, BASE.replace(str(SINGLE_QUEUE), "missing.toml")) == [
        f"ops_config: file not found: {tmp_path / 'missing.toml'}"
    ]
    assert _problems(tmp_path, BASE.replace(f'ops_config = "{SINGLE_QUEUE}"', "")) == [
        "ops_config: give either ops_config (a path) or an inline [ops] table"
    ]
    assert _problems(tmp_path, "trace = 'nowhere.csv'\n" + BASE) == [
        f"trace: file not found: {tmp_path / 'nowhere.csv'}"
    ]
    broken = tmp_path / "broken_ops.toml"
    broken.write_text("[[queues]]\nname = 'main'\nsla_s = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_scenario(_write(tmp_path, BASE.replace(str(SINGLE_QUEUE), "broken_ops.toml")))
    assert caught.value.source == str(broken)


def test_unreadable_scenario(tmp_path: Path) -> None:
    assert _problems(tmp_path, "horizon_s = = 1")[0].startswith("(toml): ")
    with pytest.raises(ConfigError, match=r"\(file\): "):
        load_scenario(tmp_path / "absent.toml")


def test_rates_bursts_and_shifts(tmp_path: Path) -> None:
    multipliers = ", ".join(["0.5"] * 12 + ["2.0"] * 12)
    text = BASE.replace("rate_per_hour = 100", f"rate_per_hour = 360\nhourly_multipliers = [{multipliers}]")
    text = text.replace('site = "lisbon"', 'site = "lisbon"\nshifts = [{ start_h = 22, end_h = 6 }]')
    text += "\n[[bursts]]\nstart_s = 43200\nlength_s = 600\nmultiplier = 4\n"
    scenario = load_scenario(_write(tmp_path, text.replace("horizon_s = 3600", "horizon_s = 90000")))
    [arrival] = scenario.arrivals
    assert scenario.rate_at(arrival, 3600.0) == pytest.approx(0.05)
    assert scenario.rate_at(arrival, 43200.0) == pytest.approx(0.8)
    assert scenario.rate_at(arrival, 43800.0) == pytest.approx(0.2)
    assert scenario.rate_at(arrival, 86400.0 + 3600.0) == pytest.approx(0.05)
    assert scenario.peak_rate(arrival) == pytest.approx(0.8)
    segments = scenario.rate_segments(arrival, 50000.0)
    assert segments[0] == (0.0, 3600.0, pytest.approx(0.05))
    assert (43200.0, 43800.0, pytest.approx(0.8)) in segments
    assert segments[-1][1] == 50000.0
    assert all(end == start for (_, end, _), (start, _, _) in zip(segments, segments[1:], strict=False))
    for start, end, rate in segments:
        assert scenario.rate_at(arrival, (start + end) / 2) == pytest.approx(rate)
    [group] = scenario.roster
    assert [group.on_shift(hour * 3600.0) for hour in (21, 22, 23, 0, 5, 6)] == [False, True, True, True, True, False]
    assert scenario.strategy == "priority" and scenario.replications == 1


def test_signals_and_calibration(tmp_path: Path) -> None:
    text = BASE.replace(
        "region = { us = 1 }",
        "region = { us = 1 }\n[arrivals.signals.spam]\nscore = { a = 2, b = 5 }\ncalibration = 'identity'\n",
    )
    scenario = load_scenario(_write(tmp_path, text))
    signal = scenario.arrivals[0].signals["spam"]
    scores = np.array([0.0, 0.25, 1.0])
    assert list(signal.calibration.probability(scores)) == [0.0, 0.25, 1.0]
    assert signal.score.mean == pytest.approx(2 / 7)
    power = PowerCalibration(kind="power", exponent=2.0)
    assert list(power.probability(scores)) == [0.0, 0.0625, 1.0]
    logistic = LogisticCalibration(kind="logistic", slope=10.0, midpoint=0.25)
    assert logistic.probability(scores)[1] == pytest.approx(0.5)


def test_mix_normalises_in_file_order() -> None:
    values, probabilities = mix({Source.PROACTIVE: 3.0, Source.USER_REPORT: 1.0})
    assert values == [Source.PROACTIVE, Source.USER_REPORT]
    assert list(probabilities) == [0.75, 0.25]


def test_mix_of_weights_whose_sum_overflows_still_normalises() -> None:
    """Found by a probe: `language = { en = 1e308, fr = 1e308 }` passes validation (each weight finite and
    positive), and its sum overflowed, so every lab command died in `rng.choice` with a traceback."""
    top = float(np.finfo(float).max)
    values, probabilities = mix({"en": top, "fr": top, "es": top / 2})
    assert values == ["en", "fr", "es"]
    assert list(probabilities) == [0.4, 0.4, 0.2]


def test_handling_time_mean_and_duration_scaling() -> None:
    rng = np.random.default_rng(5)
    lognormal = HandlingTime(median_s=60.0, sigma=0.5, duration_factor=1.5)
    assert lognormal.base_mean_s == pytest.approx(60.0 * math.exp(0.125))
    samples = lognormal.sample(rng, np.full(200_000, 100.0))
    assert samples.mean() == pytest.approx(lognormal.base_mean_s + 150.0, rel=0.01)
    exponential = HandlingTime(distribution="exponential", mean_s=30.0)
    draws = exponential.sample(rng, np.zeros(200_000))
    assert draws.mean() == pytest.approx(30.0, rel=0.01)
    assert draws.std() == pytest.approx(30.0, rel=0.02)


def test_cumulative_views_integrates_the_decay() -> None:
    views, half_life, age = 3600.0, 600.0, 1500.0
    expected, _ = quad(lambda s: views * 2 ** (-s / half_life) / 3600.0, 0.0, age)
    got = cumulative_views(np.array([views]), np.array([half_life]), np.array([age]))
    assert got[0] == pytest.approx(expected)
    assert cumulative_views(np.array([views]), None, np.array([age]))[0] == pytest.approx(1500.0)


def test_trace_from_csv(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text(
        "id,arrive_at_s,modality,language,region,signals.spam,attributes.channel,true_violating\n"
        "b,20.5,video,en,us,0.9,ads,true\n"
        "a,3,text,es,eu,,,\n",
        encoding="utf-8",
    )
    [first, second] = load_trace(path)
    assert (first.at_s, first.item.id, first.item.signals, first.true_violating) == (3.0, "a", {}, None)
    assert second.item.signals == {"spam": 0.9}
    assert second.item.attributes == {"channel": "ads"}
    assert second.true_violating is True


def test_every_signals_and_attributes_column_of_a_csv_row_nests_in_its_item(tmp_path: Path) -> None:
    """An item scored in several policy areas is routed and auto-actioned on all of them: keeping one column of each
    kind would replay an item scored for spam and gore as if it had only one score, and maybe route it elsewhere."""
    path = tmp_path / "trace.csv"
    path.write_text(
        "id,arrive_at_s,modality,language,region,signals.spam,signals.gore,attributes.channel,attributes.market\n"
        "a,1,text,en,us,0.1,0.9,ads,de\n"
    )
    [arrival] = load_trace(path)
    assert arrival.item.signals == {"spam": 0.1, "gore": 0.9}
    assert arrival.item.attributes == {"channel": "ads", "market": "de"}


def test_trace_from_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    rows = [
        {"id": "x", "arrive_at_s": 1.0, "modality": "photo", "language": "en", "region": "us", "reports": 2},
        {"id": "y", "arrive_at_s": 0.5, "modality": "text", "language": "en", "region": "us", "true_violating": False},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n", encoding="utf-8")
    arrivals = load_trace(path)
    assert [arrival.item.id for arrival in arrivals] == ["y", "x"]
    assert arrivals[1].item.reports == 2 and arrivals[0].true_violating is False


def test_trace_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text(
        "id,arrive_at_s,modality,language,region\nok,1,text,en,us\nbad,-2,text,en,us\nworse,3,hologram,en,us\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_trace(path)
    assert caught.value.problems[0] == "line 3: arrive_at_s: Input should be greater than or equal to 0"
    assert caught.value.problems[1].startswith("line 4: modality: Input should be 'video'")
    jsonl = tmp_path / "trace.jsonl"
    jsonl.write_text('{"id": "a"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2: \\(json\\)"):
        load_trace(jsonl)
    with pytest.raises(ConfigError, match="must be .csv or .jsonl"):
        load_trace(tmp_path / "trace.txt")
    twice = tmp_path / "twice.csv"
    twice.write_text("id,arrive_at_s,modality,language,region\na,1,text,en,us\nb,2,text,en,us\na,3,text,en,us\n")
    with pytest.raises(ConfigError) as caught:
        load_trace(twice)
    assert caught.value.problems == ["line 4: id: 'a' is already on line 2"]
    unlinked = tmp_path / "unlinked.csv"
    unlinked.write_text(
        "id,arrive_at_s,modality,language,region,source,content_hash\n"
        "a,1,text,en,us,appeal,h1\nb,2,text,en,us,escalation,\nc,3,text,en,us,,\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_trace(unlinked)
    assert caught.value.problems == [f"line 3: content_hash: {UNLINKED}"]


def _trace_problems(path: Path, text: str) -> list[str]:
    """What `load_trace` reports of a trace file `path` holding `text`."""
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_trace(path)
    return caught.value.problems


def test_a_trace_row_s_half_life_and_patience_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    rows = "a,0,text,en,us,600,30\nb,1,text,en,us,,\nc,2,text,en,us,0,inf\n"
    assert _trace_problems(path, "id,arrive_at_s,modality,language,region,views_half_life_s,patience_s\n" + rows) == [
        "line 4: views_half_life_s: Input should be greater than 0",
        "line 4: patience_s: Input should be a finite number",
    ]
    path.write_text(path.read_text().rsplit("c,", 1)[0])
    [first, second] = load_trace(path)
    assert (first.views_half_life_s, first.patience_s) == (600.0, 30.0)
    assert (second.views_half_life_s, second.patience_s) == (math.inf, math.inf)


def test_a_trace_row_s_timing_and_item_problems_are_reported_together(tmp_path: Path) -> None:
    """Found by a mutation review: a row with a bad arrival time had its item's problems held back until the time
    was fixed and the trace read again, one more round trip per row of a trace whose export went wrong."""
    row = "a,-1,hologram,en,us,0\n"
    assert _trace_problems(tmp_path / "trace.csv", "id,arrive_at_s,modality,language,region,patience_s\n" + row) == [
        "line 2: arrive_at_s: Input should be greater than or equal to 0",
        "line 2: patience_s: Input should be greater than 0",
        "line 2: modality: Input should be 'video', 'audio', 'photo', 'text' or 'livestream'",
    ]


def test_a_trace_row_s_half_life_and_patience_are_at_most_a_year(tmp_path: Path) -> None:
    """As for a scenario's drawn half-life, the bound is the longest run (366 days): more is no decay and no
    abandonment in any run, so a row giving it holds a unit mistake or a placeholder for "never", which an empty cell
    says."""
    rows = "a,0,text,en,us,31622400,31622400\nb,0,text,en,us,1e12,31622401\n"
    header = "id,arrive_at_s,modality,language,region,views_half_life_s,patience_s\n"
    assert _trace_problems(tmp_path / "trace.csv", header + rows) == [
        "line 3: views_half_life_s: Input should be less than or equal to 31622400",
        "line 3: patience_s: Input should be less than or equal to 31622400",
    ]


@pytest.mark.parametrize("column", ["region", "signals.spam"])
def test_a_trace_column_named_twice_is_refused(tmp_path: Path, column: str) -> None:
    """Found by a probe: a CSV with `region` twice was replayed with the last one's cells, the first dropped."""
    path = tmp_path / "trace.csv"
    path.write_text(f"id,arrive_at_s,modality,language,region,signals.spam,{column}\na,0,text,en,us,0.1,0.2\n")
    with pytest.raises(ConfigError) as caught:
        load_trace(path)
    assert caught.value.problems == [f"line 1: {column}: the column appears more than once"]


def _jsonl_line(item_id: str, rest: str) -> str:
    """A trace's JSON line for a text item `item_id` from the US, with `rest` (its arrival and more) after it."""
    return f'{{"id": "{item_id}", "modality": "text", "language": "en", "region": "us", {rest}}}\n'


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"arrive_at_s": true', "arrive_at_s: Input should be a valid number"),
        ('"arrive_at_s": "7"', "arrive_at_s: Input should be a valid number"),
        ('"arrive_at_s": 1, "reports": true', "reports: Input should be a valid integer"),
        ('"arrive_at_s": 1, "true_violating": 1', "true_violating: Input should be a valid boolean"),
        ('"arrive_at_s": 1, "signals": {"spam": "0.5"}', "signals.spam: Input should be a valid number"),
        ('"arrive_at_s": 1, "patience_s": "30"', "patience_s: Input should be a valid number"),
    ],
)
def test_a_jsonl_row_is_read_as_strictly_as_the_api_reads_its_item(tmp_path: Path, value: str, problem: str) -> None:
    """Found by a probe: `"reports": true` was replayed as 1 report, `"arrive_at_s": true` as 1 s, a score of "0.5"
    as 0.5, while the API and `queueopt route` refuse the same item; an export replayed in the lab must mean what it
    meant in production, so the mistake upstream is named on its line."""
    text = _jsonl_line("a", '"arrive_at_s": 2') + _jsonl_line("b", value)
    assert _trace_problems(tmp_path / "trace.jsonl", text) == [f"line 2: {problem}"]


def test_a_jsonl_row_s_lax_values_are_reported_together(tmp_path: Path) -> None:
    row = _jsonl_line("a", '"arrive_at_s": true, "reports": true, "views_per_hour": "100", "true_violating": 1')
    assert _trace_problems(tmp_path / "trace.jsonl", row) == [
        "line 1: arrive_at_s: Input should be a valid number",
        "line 1: true_violating: Input should be a valid boolean",
        "line 1: views_per_hour: Input should be a valid number",
        "line 1: reports: Input should be a valid integer",
    ]


@pytest.mark.parametrize(
    ("rest", "keys"),
    [
        ('"arrive_at_s": 1, "region": "eu"', ["region"]),
        ('"arrive_at_s": 2, "arrive_at_s": 9000', ["arrive_at_s"]),
        ('"arrive_at_s": 1, "signals": {"spam": 0.1, "spam": 0.9}', ["signals.spam"]),
        ('"arrive_at_s": 1, "attributes": {"channel": "ads", "channel": "news"}', ["attributes.channel"]),
        ('"arrive_at_s": 1, "signals": {"spam": 0.1, "spam": 0.9}, "region": "eu"', ["region", "signals.spam"]),
    ],
)
def test_a_key_named_twice_in_a_jsonl_row_is_refused(tmp_path: Path, rest: str, keys: list[str]) -> None:
    """Found by a probe: the last value was kept without a word (a row moved from 2 s to 9000 s was then dropped as
    after the horizon), as a CSV column named twice used to be: which one the export meant is not ours to guess."""
    text = _jsonl_line("a", '"arrive_at_s": 0') + _jsonl_line("b", rest)
    assert _trace_problems(tmp_path / "trace.jsonl", text) == [
        f"line 2: {key}: the key appears more than once" for key in keys
    ]


def test_a_csv_row_s_numbers_and_truth_are_read_from_its_text(tmp_path: Path) -> None:
    """A CSV cell is always text: the values a JSON line must give as numbers and booleans are read from it."""
    path = tmp_path / "trace.csv"
    path.write_text(
        "id,arrive_at_s,modality,language,region,reports,views_per_hour,signals.spam,true_violating,patience_s\n"
        "a,7,text,en,us,2,100,0.5,1,30\n"
    )
    [arrival] = load_trace(path)
    assert (arrival.at_s, arrival.true_violating, arrival.patience_s) == (7.0, True, 30.0)
    assert (arrival.item.reports, arrival.item.views_per_hour, arrival.item.signals) == (2, 100.0, {"spam": 0.5})


def test_a_queue_that_allows_one_verdict_cannot_be_simulated(tmp_path: Path) -> None:
    """Found by probe: `check-config` accepted it and the run stopped halfway, at the first item that deserved the
    other verdict."""
    ops = tmp_path / "one_verdict.toml"
    ops.write_text(
        SINGLE_QUEUE.read_text().replace("sla_target = 0.8", "sla_target = 0.8\nallowed_verdicts = ['violating']")
    )
    assert _problems(tmp_path, BASE.replace(str(SINGLE_QUEUE), str(ops))) == [
        "ops: queue 'main' allows only violating: simulated moderators give the verdict the item deserves (or a "
        "mistake), so every queue must allow both"
    ]
    ops.write_text(SINGLE_QUEUE.read_text().replace("sla_target = 0.8", "sla_target = 0.8\nallowed_verdicts = []"))
    with pytest.raises(ConfigError) as caught:
        load_scenario(_write(tmp_path, BASE.replace(str(SINGLE_QUEUE), str(ops))))
    assert caught.value.problems == [
        "queues.0.allowed_verdicts: List should have at least 1 item after validation, not 0"
    ]


def test_an_inline_ops_table_names_its_problems_under_ops(tmp_path: Path) -> None:
    """Found by probe: a rule naming an unknown queue in an inline [ops] table was reported as `rules.0.queue`."""
    inline = BASE.replace(f'ops_config = "{SINGLE_QUEUE}"', "")
    inline += "\n[ops]\n" + "\n".join(
        line.replace("[[", "[[ops.") for line in SINGLE_QUEUE.read_text().splitlines() if not line.startswith("#")
    )
    assert load_scenario(_write(tmp_path, inline)).ops.queues[0].name == "main"
    assert _problems(tmp_path, inline.replace('queue = "main"', 'queue = "nope"')) == [
        "ops.rules.0.queue: unknown queue 'nope'"
    ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"id": "a", "arrive_at_s": 1' + "0" * 5000 + "}", "a number has too many digits"),
    ],
)
def test_a_jsonl_line_python_cannot_decode_is_one_problem_on_its_line(tmp_path: Path, line: str, reason: str) -> None:
    """Found by a review: deep nesting raised RecursionError (a traceback), and a 5,001-digit integer a message with
    no line telling the user to call sys.set_int_max_str_digits."""
    path = tmp_path / "deep.jsonl"
    path.write_text('{"id": "a", "arrive_at_s": 1, "modality": "text", "language": "en", "region": "us"}\n' + line)
    with pytest.raises(ConfigError) as caught:
        load_trace(path)
    assert str(caught.value) == f"{path}: line 2: (json): {reason}"


def test_a_missing_ops_source_is_reported_with_every_other_problem(tmp_path: Path) -> None:
    """Found by a review: without `ops_config` the file's other problems went unreported until it was added."""
    text = BASE.replace(f'ops_config = "{SINGLE_QUEUE}"', "").replace("horizon_s = 3600", "horizon_s = -1")
    text = text.replace("count = 2", "count = 0")
    problems = _problems(tmp_path, "trace = 'nowhere.csv'\n" + text)
    assert problems[:2] == [
        f"trace: file not found: {tmp_path / 'nowhere.csv'}",
        "ops_config: give either ops_config (a path) or an inline [ops] table",
    ]
    assert sorted(problems[2:]) == [
        "horizon_s: Input should be greater than or equal to 1",
        "roster.0.count: Input should be greater than or equal to 1",
    ], problems
    missing = BASE.replace(str(SINGLE_QUEUE), "missing.toml").replace("horizon_s = 3600", "horizon_s = -1")
    assert _problems(tmp_path, missing) == [
        f"ops_config: file not found: {tmp_path / 'missing.toml'}",
        "horizon_s: Input should be greater than or equal to 1",
    ]


@pytest.mark.parametrize(
    ("suffix", "unreadable", "reason"),
    [(".csv", "b,1,text,en,us,extra", "more cells than columns"), (".jsonl", "[1, 2]", "(json): expected an object")],
)
def test_an_unreadable_trace_row_is_reported_with_the_file_s_other_problems(
    tmp_path: Path, suffix: str, unreadable: str, reason: str
) -> None:
    """Found by a probe: the first row that could not be read as an item stopped the reading, and hid every problem
    of the rows after it."""
    rows = {
        ".csv": ["id,arrive_at_s,modality,language,region", "a,0,hologram,en,us", "c,2,text,en,us", "d,-1,text,en,us"],
        ".jsonl": [
            '{"id": "a", "arrive_at_s": 0, "modality": "hologram", "language": "en", "region": "us"}',
            '{"id": "c", "arrive_at_s": 2, "modality": "text", "language": "en", "region": "us"}',
            '{"id": "d", "arrive_at_s": -1, "modality": "text", "language": "en", "region": "us"}',
        ],
    }[suffix]
    rows.insert(-2, unreadable)
    path = tmp_path / f"trace{suffix}"
    path.write_text("\n".join(rows) + "\n")
    bad_modality, unreadable_line, last = (2, 3, 5) if suffix == ".csv" else (1, 2, 4)
    with pytest.raises(ConfigError) as caught:
        load_trace(path)
    problems = caught.value.problems
    assert problems[0].startswith(f"line {bad_modality}: modality: Input should be")
    assert problems[1:] == [
        f"line {unreadable_line}: {reason}",
        f"line {last}: arrive_at_s: Input should be greater than or equal to 0",
    ]


def test_a_trace_s_suffix_is_read_in_any_case(tmp_path: Path) -> None:
    """Exports from Windows tools are often named in capitals (`TRACE.CSV`): the suffix names the format either way,
    and refusing it as "not .csv" would puzzle the user holding a CSV file."""
    path = tmp_path / "TRACE.CSV"
    path.write_text("id,arrive_at_s,modality,language,region\na,1,text,en,us\n")
    assert [arrival.item.id for arrival in load_trace(path)] == ["a"]


def test_a_csv_trace_saved_with_a_byte_order_mark_keeps_its_first_column(tmp_path: Path) -> None:
    """Spreadsheets save CSV as UTF-8 with a byte order mark; read as plain UTF-8 the mark joins the first header,
    and every row would lose its `id`."""
    path = tmp_path / "trace.csv"
    path.write_text("\ufeffid,arrive_at_s,modality,language,region\na,1,text,en,us\n", encoding="utf-8")
    assert [arrival.item.id for arrival in load_trace(path)] == ["a"]


def test_a_trace_that_is_not_utf8_is_one_problem_of_the_file(tmp_path: Path) -> None:
    """A trace saved in Latin-1 is a common mistake: it is named as the file's one problem, not a traceback."""
    path = tmp_path / "trace.csv"
    path.write_bytes("id,arrive_at_s,modality,language,region\n\xe0,1,text,en,us\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_trace(path)
    assert caught.value.problems == ["(file): not UTF-8 text (invalid continuation byte)"]


def test_a_trace_s_reading_stops_at_its_twentieth_problem(tmp_path: Path) -> None:
    """A wrong file (another table's export) has problems on every row: twenty are reported, even when a row brings
    several at once, and the rest of the file is not read (here, its undecodable end is never reached)."""
    row = '{{"id": "x{}", "arrive_at_s": 1, "modality": "hologram", "language": "en", "reports": -1}}\n'
    path = tmp_path / "trace.jsonl"
    path.write_bytes("".join(row.format(k) for k in range(10)).encode() + b"\n" * 100_000 + b"\xff\n")
    with pytest.raises(ConfigError) as caught:
        load_trace(path)
    problems = caught.value.problems
    assert len(problems) == 20 and problems[-1] == "line 7: region: Field required"


@pytest.mark.parametrize("when", ["nan", "inf"])
def test_an_arrival_time_that_is_no_finite_number_is_refused_on_its_line(tmp_path: Path, when: str) -> None:
    """A NaN arrival compares false with the horizon, so the run would drop the row without a word and the sort
    place it anywhere; an infinite one arrives never. Either is a broken export, named on its line."""
    rows = f"a,1,text,en,us\nb,{when},text,en,us\n"
    problems = _trace_problems(tmp_path / "trace.csv", "id,arrive_at_s,modality,language,region\n" + rows)
    assert problems == ["line 3: arrive_at_s: Input should be a finite number"]


def test_a_trace_row_at_the_horizon_is_outside_the_run(tmp_path: Path) -> None:
    """A run covers `[0, horizon)` and replays no row at the horizon: `check_trace` counts such a row among those
    left out, and a trace of nothing else is refused rather than run as an empty day, naming its earliest row (Unix
    timestamps, say, whose first tells the user what went wrong)."""
    trace = tmp_path / "trace.csv"
    trace.write_text("id,arrive_at_s,modality,language,region\na,1,text,en,us\nb,100,text,en,us\n")
    scenario = mm_c(horizon_s=100.0, trace=str(trace), arrival={"rate_per_hour": 0.0})
    assert check_trace(scenario) == 1
    trace.write_text("id,arrive_at_s,modality,language,region\nc,200,text,en,us\nb,100,text,en,us\n")
    with pytest.raises(ConfigError, match="none of its 2 rows falls before the horizon .* the first row is at 100$"):
        check_trace(scenario)


def test_a_trace_content_hash_a_stream_would_make_is_refused(tmp_path: Path) -> None:
    """Found by a probe: a trace's `item-17` beside stream `item` was taken as a copy of that stream's 17th content
    and decided with it unseen. A hash only like a stream's (another stream's name, no number) replays."""
    trace = tmp_path / "trace.csv"
    rows = [("a", "item-17"), ("b", "items-17"), ("c", "item-x"), ("d", "item-"), ("e", "other-3")]
    lines = [f"{id_},{k},text,en,us,{content_hash}\n" for k, (id_, content_hash) in enumerate(rows)]
    trace.write_text("id,arrive_at_s,modality,language,region,content_hash\n" + "".join(lines))
    with pytest.raises(ConfigError) as caught:
        check_trace(mm_c(trace=str(trace), arrival={"name": "item", "duplicate_share": 0.5}))
    assert caught.value.problems == [
        "item 'a': content_hash: 'item-17' is how stream 'item' names its own content; the replayed item would be "
        "taken as a copy of a simulated one"
    ]


def test_a_trace_naming_areas_the_ops_config_lacks_reports_twenty_of_them(tmp_path: Path) -> None:
    """An export from another platform may name its own policy areas on every row: twenty problems say it, not
    one line per row of a large file."""
    trace = tmp_path / "trace.csv"
    trace.write_text(
        "id,arrive_at_s,modality,language,region,signals.hate\n"
        + "".join(f"x{k},{k},text,en,us,0.5\n" for k in range(25))
    )
    with pytest.raises(ConfigError) as caught:
        check_trace(mm_c(trace=str(trace), arrival={"rate_per_hour": 0.0}))
    assert caught.value.problems[19:] == ["item 'x19': signals.hate: not a policy area of the ops config"]
