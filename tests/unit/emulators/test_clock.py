import pytest

from atp.emulators.clock import AcceleratedClock, ManualClock, RealClock, now_ms


def test_manual_clock_moves_only_when_told():
    c = ManualClock(1000.0)
    assert c.now() == 1000.0
    assert c.advance(2.5) == 1002.5
    assert now_ms(c) == 1_002_500
    with pytest.raises(ValueError):
        c.advance(-1)


def test_accelerated_clock_runs_speed_times_faster():
    real = [10.0]
    c = AcceleratedClock(start=5000.0, speed=60.0, real=lambda: real[0])
    assert c.now() == 5000.0
    real[0] += 2.0
    assert c.now() == pytest.approx(5120.0)


def test_real_clock_is_wall_time():
    import time

    assert abs(RealClock().now() - time.time()) < 1.0
