import pytest

from queueopt.clock import VirtualClock


def test_virtual_clock_moves_only_forward() -> None:
    clock = VirtualClock(10.0)
    clock.advance(5.0)
    clock.set(20.0)
    assert clock.now() == 20.0
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1.0)
    with pytest.raises(ValueError, match="back to"):
        clock.set(19.0)
    assert clock.now() == 20.0
