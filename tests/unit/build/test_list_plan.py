"""The order in which listing workers take pieces."""

from __future__ import annotations

from registration.build.sources.list_plan import Piece, Plan, Siblings, Unit


def _pieces(window: int) -> tuple[Plan, list[Piece]]:
    unit = Unit("", Siblings(1))
    pieces = [
        Piece("", unit, after="a", upto="b"),
        Piece("", unit, after="b", upto="c"),
        Piece("", unit, after="c", sampled=True),
    ]
    return Plan([*pieces], window), pieces


def test_the_open_end_of_a_stretch_is_listed_first_then_the_pieces_in_key_order():
    plan, (first, second, probe) = _pieces(window=3)
    with plan.cond:
        taken = [plan.take(), plan.take(), plan.take(), plan.take()]
    assert taken == [probe, first, second, None]


def test_nothing_past_the_window_is_taken():
    plan, (first, second, probe) = _pieces(window=2)
    with plan.cond:
        taken = [plan.take(), plan.take(), plan.take()]
    assert taken == [first, second, None]
    assert not probe.started
