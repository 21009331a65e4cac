"""The adaptive size rule, fed timings: grows while the time per item falls, shrinks on failures."""

from __future__ import annotations

from registration.register.adaptive import ADAPTIVE_START_ITEMS, GROWTH, SizeController


def _job(fixed: float, per_item: float, items: int) -> float:
    return fixed + per_item * items


def test_starts_small_and_grows_each_file_fourfold_up_to_the_maximum():
    sizes = SizeController(maximum=10_000)
    assert [sizes.next_size() for _ in range(5)] == [500, 2000, 8000, 10_000, 10_000]
    assert (ADAPTIVE_START_ITEMS, GROWTH) == (500, 4)


def test_keeps_growing_while_a_fixed_cost_per_job_dominates():
    sizes = SizeController(maximum=10_000)
    for _ in range(6):
        n = sizes.next_size()
        sizes.observe(n, _job(2.0, 0.0001, n))
    assert sizes.growing
    assert sizes.next_size() == 10_000
    assert sizes.decisions == []


def test_settles_on_the_fastest_size_once_larger_files_are_not_faster_per_item():
    # Encord slows down past 2,000 items per file: 8,000 costs more per item than 2,000.
    per_item = {500: 4e-3, 2000: 1.5e-3, 8000: 1.6e-3}
    sizes = SizeController(maximum=10_000)
    seen = []
    for _ in range(3):
        n = sizes.next_size()
        seen.append(n)
        sizes.observe(n, per_item[n] * n)
    assert seen == [500, 2000, 8000]
    assert not sizes.growing
    assert [sizes.next_size() for _ in range(3)] == [2000, 2000, 2000]
    assert "settling on 2,000" in sizes.decisions[-1].reason


def test_a_gain_under_the_threshold_is_not_worth_growing_for():
    sizes = SizeController(maximum=10_000)
    sizes.observe(500, 500 * 1.00e-3)
    sizes.observe(2000, 2000 * 0.98e-3)  # 2% faster per item: noise
    assert not sizes.growing
    sizes.next_size()
    assert sizes.next_size() == 2000  # the faster of the two, if only just


def test_timings_of_files_still_in_flight_at_smaller_sizes_arrive_later():
    sizes = SizeController(maximum=50_000)
    for _ in range(3):
        sizes.next_size()  # 500, 2,000, 8,000 sent before any job ends
    sizes.observe(2000, _job(2, 1e-4, 2000))
    sizes.observe(500, _job(2, 1e-4, 500))  # out of order: still falling
    sizes.observe(8000, _job(2, 1e-4, 8000))
    assert sizes.growing
    assert sizes.next_size() == 32_000


def test_a_rejection_or_a_job_past_the_deadline_halves_and_caps_the_size():
    sizes = SizeController(maximum=10_000)
    for _ in range(3):
        sizes.next_size()  # up to 8,000
    sizes.failed(8000, "was rejected")
    assert sizes.next_size() == 4000
    sizes.observe(4000, _job(2, 1e-4, 4000))
    assert sizes.next_size() == 4000  # never above the cap again, however fast
    sizes.failed(4000, "outlived the job deadline")
    assert sizes.next_size() == 2000
    assert "at most 2,000" in sizes.decisions[-1].reason


def test_never_below_the_minimum_and_never_above_the_maximum():
    sizes = SizeController(maximum=300, start=500, minimum=50)
    assert sizes.next_size() == 300
    for _ in range(10):
        sizes.failed(sizes.next_size(), "was rejected")
    assert sizes.next_size() == 50


def test_a_resumed_run_continues_from_the_last_size():
    sizes = SizeController(maximum=10_000)
    sizes.resume_at(2000)
    assert sizes.next_size() == 8000
