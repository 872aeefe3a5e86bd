import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm
from scipy.stats import poisson

from queueopt.sim.theory import (
    cobham_mean_waits,
    erlang_a,
    erlang_a_service_level,
    erlang_a_within,
    erlang_b,
    erlang_c,
    mm_c_mean_wait,
    mm_c_service_level,
    mm_c_wait_exceeds,
    mm_c_wait_quantile,
    servers_for_mean_wait,
    servers_for_sla,
)


def test_erlang_c_textbook_values() -> None:
    assert erlang_c(2, 1.0, 1.0) == pytest.approx(1 / 3)
    assert mm_c_mean_wait(2, 1.0, 1.0) == pytest.approx(1 / 3)
    # M/M/1: C = rho, Wq = rho / (mu - lam).
    assert erlang_c(1, 0.8, 1.0) == pytest.approx(0.8)
    assert mm_c_mean_wait(1, 0.8, 1.0) == pytest.approx(4.0)
    # Erlang B for c = 3, a = 2: (8/6) / (1 + 2 + 2 + 8/6) = 4/19.
    assert erlang_b(3, 2.0, 1.0) == pytest.approx(4 / 19)


def test_erlang_c_against_the_factorial_formula() -> None:
    servers, load = 10, 9.0
    terms = [load**k / math.factorial(k) for k in range(servers)]
    top = load**servers / math.factorial(servers) * servers / (servers - load)
    assert erlang_c(servers, load, 1.0) == pytest.approx(top / (sum(terms) + top), rel=1e-12)


def test_erlang_c_is_finite_for_thousands_of_servers() -> None:
    waiting = erlang_c(5000, 4950.0, 1.0)
    assert 0.0 < waiting < 1.0
    assert math.isfinite(mm_c_mean_wait(5000, 4950.0, 1.0))


def test_waiting_time_law() -> None:
    servers, lam, mu = 2, 1.0, 1.0
    assert mm_c_wait_exceeds(servers, lam, mu, 0.0) == pytest.approx(1 / 3)
    assert mm_c_wait_exceeds(servers, lam, mu, 2.0) == pytest.approx(math.exp(-2.0) / 3)
    assert mm_c_service_level(servers, lam, mu, 2.0) == pytest.approx(1 - math.exp(-2.0) / 3)
    assert mm_c_wait_quantile(servers, lam, mu, 0.5) == 0.0
    t = mm_c_wait_quantile(servers, lam, mu, 0.9)
    assert mm_c_service_level(servers, lam, mu, t) == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: erlang_c(2, 2.0, 1.0), "unstable"),
        (lambda: erlang_c(0, 0.5, 1.0), "servers"),
        (lambda: erlang_c(2, -1.0, 1.0), "arrival rate"),
        (lambda: erlang_c(2, 1.0, 0.0), "service rate"),
        (lambda: mm_c_wait_exceeds(2, 1.0, 1.0, -1.0), "t must"),
        (lambda: mm_c_wait_quantile(2, 1.0, 1.0, 1.0), "quantile"),
        (lambda: erlang_a(2, 1.0, 1.0, 0.0), "patience"),
        (lambda: cobham_mean_waits([0.5, 0.5], [1.0, 1.0], [2.0, 2.0]), "unstable"),
        (lambda: cobham_mean_waits([0.5], [1.0], [0.5]), "second moment"),
        (lambda: cobham_mean_waits([0.5], [1.0, 2.0], [2.0]), "one arrival rate"),
        (lambda: servers_for_sla(1.0, 1.0, 10.0, 1.0), "target_fraction"),
        (lambda: servers_for_mean_wait(1.0, 1.0, 0.0), "target_mean_wait_s"),
    ],
)
def test_bad_arguments_are_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_erlang_a_tends_to_erlang_c_as_patience_grows() -> None:
    servers, lam, mu = 5, 4.0, 1.0
    patient = erlang_a(servers, lam, mu, 1e-7)
    assert patient.p_wait == pytest.approx(erlang_c(servers, lam, mu), rel=1e-4)
    assert patient.mean_wait == pytest.approx(mm_c_mean_wait(servers, lam, mu), rel=1e-4)
    assert patient.p_abandon < 1e-6
    level = erlang_a_service_level(servers, lam, mu, 1e-7, 0.5)
    assert level == pytest.approx(mm_c_service_level(servers, lam, mu, 0.5), rel=1e-5)


def test_erlang_a_with_patience_rate_equal_to_service_rate_is_m_m_infinity() -> None:
    # Death rate n mu for every n: the number in system is Poisson(lam / mu).
    servers, lam, mu = 3, 5.0, 2.0
    result = erlang_a(servers, lam, mu, mu)
    load = lam / mu
    n = np.arange(200)
    queue = float(np.dot(np.maximum(n - servers, 0), poisson.pmf(n, load)))
    assert result.p_wait == pytest.approx(float(poisson.sf(servers - 1, load)), rel=1e-9)
    assert result.mean_queue == pytest.approx(queue, rel=1e-9)
    assert result.p_abandon == pytest.approx(mu * queue / lam, rel=1e-9)
    busy = float(np.dot(np.minimum(n, servers), poisson.pmf(n, load)))
    assert result.utilisation == pytest.approx(busy / servers, rel=1e-9)


def test_erlang_a_is_stable_in_overload_and_conserves_flow() -> None:
    servers, lam, mu, theta = 10, 30.0, 1.0, 0.5
    result = erlang_a(servers, lam, mu, theta)
    served = result.utilisation * servers * mu
    assert served + result.p_abandon * lam == pytest.approx(lam, rel=1e-9)
    assert result.p_wait > 0.99


def _tagged_arrival_by_matrix_exponential(
    servers: int, lam: float, mu: float, theta: float, t: float, depth: int
) -> tuple[float, float]:
    """Reference: the tagged arrival's chain (k ahead, own abandonment) solved with a dense matrix exponential."""
    n = np.arange(servers + depth)
    deaths = np.minimum(n[1:], servers) * mu + np.maximum(n[1:] - servers, 0) * theta
    log_p = np.concatenate([[0.0], np.cumsum(np.log(lam) - np.log(deaths))])
    arrival_state = np.exp(log_p - log_p.max())
    arrival_state /= arrival_state.sum()
    ahead = arrival_state[servers:]
    size = ahead.size
    generator = np.zeros((size + 2, size + 2))  # states: k ahead, served, abandoned
    for k in range(size):
        move = servers * mu + k * theta
        generator[k, k] = -(move + theta)
        generator[k, k - 1 if k else size] = move
        generator[k, size + 1] = theta
    law = np.concatenate([ahead, [0.0, 0.0]]) @ expm(generator * t)
    return float(law[:size].sum()), float(arrival_state[:servers].sum() + law[size])


@pytest.mark.parametrize(("lam", "theta", "t"), [(3.0, 0.3, 0.7), (6.0, 1.5, 2.0), (1.0, 0.05, 0.1)])
def test_erlang_a_waiting_law_matches_the_tagged_chain(lam: float, theta: float, t: float) -> None:
    servers, mu = 4, 1.0
    waiting, served = _tagged_arrival_by_matrix_exponential(servers, lam, mu, theta, t, depth=120)
    within = erlang_a_within(servers, lam, mu, theta, t)
    assert within.waiting == pytest.approx(waiting, abs=1e-10)
    assert within.served == pytest.approx(served, abs=1e-10)
    assert within.waiting + within.served + within.abandoned == pytest.approx(1.0)


def test_cobham_single_class_is_m_m_1() -> None:
    lam, mu = 0.6, 1.0
    [wait] = cobham_mean_waits([lam], [1 / mu], [2 / mu**2])
    assert wait == pytest.approx(mm_c_mean_wait(1, lam, mu))


def test_cobham_two_classes_conserve_work() -> None:
    # Kleinrock's conservation law: sum rho_k W_k is the same under any work-conserving non-preemptive order.
    lams, means, seconds = [0.01, 30 / 3600], [30.0, 60.0], [1800.0, 7200.0]
    waits = cobham_mean_waits(lams, means, seconds)
    assert waits == pytest.approx([39 / 0.7, 39 / (0.7 * 0.2)])
    loads = [lam * mean for lam, mean in zip(lams, means, strict=True)]
    total = sum(loads)
    fifo_wait = 39 / (1 - total)
    assert sum(load * wait for load, wait in zip(loads, waits, strict=True)) == pytest.approx(total * fifo_wait)


def test_staffing_examples() -> None:
    # 100 items per minute, 3-minute reviews: offered load 300.
    lam, mu = 100 / 60, 1 / 180
    servers = servers_for_sla(lam, mu, 60.0, 0.8)
    assert mm_c_service_level(servers, lam, mu, 60.0) >= 0.8
    assert mm_c_service_level(servers - 1, lam, mu, 60.0) < 0.8
    patient = servers_for_sla(lam, mu, 60.0, 0.8, patience_rate=1 / 600)
    assert patient <= servers
    assert erlang_a_service_level(patient, lam, mu, 1 / 600, 60.0) >= 0.8
    assert erlang_a_service_level(patient - 1, lam, mu, 1 / 600, 60.0) < 0.8
    assert servers_for_sla(0.0, mu, 60.0, 0.8) == 0


@settings(max_examples=40, deadline=None)
@given(
    servers=st.integers(1, 60),
    utilisation=st.floats(0.01, 0.99),
)
def test_erlang_c_is_a_probability_and_falls_with_more_servers(servers: int, utilisation: float) -> None:
    lam = utilisation * servers
    waiting = erlang_c(servers, lam, 1.0)
    assert 0.0 <= waiting <= 1.0
    assert erlang_c(servers + 1, lam, 1.0) <= waiting
    assert erlang_b(servers, lam, 1.0) <= waiting


@settings(max_examples=25, deadline=None)
@given(
    load=st.floats(0.1, 200.0),
    wait=st.floats(0.0, 5.0),
    target=st.floats(0.05, 0.99),
    patience=st.none() | st.floats(0.05, 5.0),
)
def test_staffing_is_minimal(load: float, wait: float, target: float, patience: float | None) -> None:
    mu = 1.0
    servers = servers_for_sla(load, mu, wait, target, patience_rate=patience)

    def level(c: int) -> float:
        if patience is None:
            return mm_c_service_level(c, load, mu, wait) if c > load else 0.0
        return erlang_a_service_level(c, load, mu, patience, wait)

    assert level(servers) >= target
    assert servers == 1 or level(servers - 1) < target


@settings(max_examples=25, deadline=None)
@given(load=st.floats(0.1, 100.0), target=st.floats(0.01, 10.0), patience=st.none() | st.floats(0.05, 5.0))
def test_mean_wait_staffing_is_minimal(load: float, target: float, patience: float | None) -> None:
    servers = servers_for_mean_wait(load, 1.0, target, patience_rate=patience)

    def mean_wait(c: int) -> float:
        if patience is None:
            return mm_c_mean_wait(c, load, 1.0) if c > load else math.inf
        return erlang_a(c, load, 1.0, patience).mean_wait

    assert mean_wait(servers) <= target
    assert servers == 1 or mean_wait(servers - 1) > target


def test_numpy_server_counts_and_zero_arrivals() -> None:
    assert erlang_c(np.int64(2), 1.0, 1.0) == pytest.approx(1 / 3)  # type: ignore[arg-type]
    assert erlang_c(3, 0.0, 1.0) == 0.0
    assert mm_c_wait_quantile(3, 0.0, 1.0, 0.99) == 0.0
    idle = erlang_a(3, 0.0, 1.0, 0.5)
    assert (idle.p_wait, idle.p_abandon, idle.mean_wait) == (0.0, 0.0, 0.0)
    assert erlang_a_within(3, 0.0, 1.0, 0.5, 1.0).served == 1.0


def test_staffing_at_an_integer_offered_load_starts_above_it() -> None:
    # lam / mu is exactly 9: nine servers are unstable, the search must not call Erlang C there.
    assert servers_for_sla(0.15, 0.15 / 9, 0.0, 0.05) >= 10
    assert servers_for_mean_wait(9.0, 1.0, 1.0) >= 10
