import pytest

from queueopt.errors import InvalidInput
from queueopt.sim import theory
from queueopt.sim.staffing import check, plan

from .helpers import ONE_QUEUE_OPS, example, mm_c


def test_plan_for_one_queue_is_erlang_c_of_its_rate() -> None:
    scenario = mm_c(servers=4, load=0.8, horizon_s=10 * 86400.0)
    staffing = plan(scenario)
    assert len(staffing.rows) == 24
    lam, mu = 0.8 * 4 / 60.0, 1 / 60.0
    exact = theory.servers_for_sla(lam, mu, 60.0, 0.8)
    for row in staffing.rows:
        assert row.arrivals_per_hour == pytest.approx(lam * 3600.0, rel=0.1)
        assert row.mean_handling_s == pytest.approx(60.0)
        assert abs(row.servers - exact) <= 1
    assert staffing.dedicated_by_hour() == staffing.pooled_by_hour()


def test_abandonment_switches_to_erlang_a_and_needs_fewer() -> None:
    patient = plan(mm_c(servers=4, load=0.8, horizon_s=86400.0))
    leaving = plan(mm_c(servers=4, load=0.8, horizon_s=86400.0, arrival={"patience_s": 60}))
    assert leaving.rows[0].patience_s == pytest.approx(60.0)
    assert sum(leaving.dedicated_by_hour()) < sum(patient.dedicated_by_hour())


def test_pooling_two_queues_with_one_sla_needs_no_more() -> None:
    ops = {
        **ONE_QUEUE_OPS,
        "queues": [{"name": "en", "sla_s": 60, "sla_target": 0.8}, {"name": "es", "sla_s": 60, "sla_target": 0.8}],
        "rules": [{"name": "en", "queue": "en", "when": {"language": ["en"]}}, {"name": "rest", "queue": "es"}],
    }
    scenario = mm_c(servers=4, load=0.8, horizon_s=86400.0, ops=ops, arrival={"language": {"en": 1, "es": 1}})
    staffing = plan(scenario)
    assert {row.queue for row in staffing.rows} == {"en", "es"}
    assert all(pool.pooled <= pool.dedicated for pool in staffing.pools)
    assert sum(staffing.pooled_by_hour()) < sum(staffing.dedicated_by_hour())


def test_plan_of_the_example_day_covers_its_queues() -> None:
    staffing = plan(example("example_day.toml"))
    queues = {row.queue for row in staffing.rows}
    assert {"video_standard", "photo_standard", "livestream"} <= queues
    busiest = max(range(24), key=lambda hour: staffing.dedicated_by_hour()[hour])
    assert staffing.dedicated_by_hour()[busiest] > 100


def test_check_simulates_the_planned_size_and_one_fewer() -> None:
    scenario = mm_c(servers=3, load=0.6, horizon_s=30000.0, replications=2)
    result = check(scenario, 4)
    assert result.servers == 4
    assert result.sla_attainment > result.sla_attainment_one_fewer


def test_check_refuses_a_whole_roster() -> None:
    with pytest.raises(InvalidInput, match="one queue and one roster group"):
        check(example("example_day.toml"), 10)
