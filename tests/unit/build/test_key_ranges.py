"""Cut points for key ranges: ordered, inside their stretch, sent-able; Python's string
order is S3's (UTF-8 byte) order for every key S3 accepts."""

from __future__ import annotations

import bisect
import itertools
import random

from hypothesis import given
from hypothesis import strategies as st

from registration.build.sources.key_ranges import KeyModel, usable_bound

# Every code point except surrogates: exactly the strings that encode to valid UTF-8.
KEY_CHARS = st.characters(exclude_categories=("Cs",))
KEYS = st.text(KEY_CHARS, min_size=1, max_size=40)


@given(st.lists(KEYS, min_size=2, max_size=50, unique=True))
def test_str_order_is_utf8_byte_order(keys: list[str]) -> None:
    assert sorted(keys) == sorted(keys, key=lambda k: k.encode("utf-8"))


@given(
    st.lists(KEYS, min_size=2, max_size=60, unique=True),
    st.integers(min_value=1, max_value=50),
    st.booleans(),
)
def test_cuts_are_increasing_and_strictly_inside(
    keys: list[str], per_piece: int, open_end: bool
) -> None:
    keys.sort()
    sample, after = keys[: len(keys) // 2 + 1], keys[len(keys) // 2]
    upto = None if open_end else keys[-1] + "\U0010ffff"
    cuts = KeyModel(sample).cuts(after, upto, per_piece, ahead=per_piece * 10)
    assert cuts == sorted(set(cuts))
    assert all(c > after and (upto is None or c < upto) and usable_bound(c) for c in cuts)


def _counts(keys: list[str], bounds: list[str]) -> list[int]:
    edges = [bisect.bisect_right(keys, b) for b in bounds]
    return [high - low for low, high in itertools.pairwise(edges)]


def test_numbered_keys_are_cut_into_pieces_of_about_the_size_asked() -> None:
    keys = [f"img_{i:07d}.jpg" for i in range(200_000)]
    model = KeyModel(keys[:1000])
    cuts = model.cuts(keys[999], keys[60_000], 4_000, ahead=0)
    sizes = _counts(keys, [keys[999], *cuts, keys[60_000]])
    assert sizes[:2] == [4_000, 4_000]  # 1, 1, 2, 4, ... times the piece
    assert sizes[2] == 8_000 and sum(sizes) == 60_000 - 999


def test_an_open_stretch_is_cut_up_to_about_ahead_keys() -> None:
    keys = [f"object {i:06d}.jpg" for i in range(100_000)]
    cuts = KeyModel(keys[:1000]).cuts(keys[999], None, 3_900, ahead=31_200)
    reach = bisect.bisect_right(keys, cuts[-1]) - 1000
    assert 31_200 <= reach <= 2 * 31_200
    assert _counts(keys, [keys[999], *cuts])[0] == 3_900


def test_random_hex_names_are_cut_near_the_size_asked() -> None:
    rng = random.Random(3)
    keys = sorted(f"{rng.getrandbits(64):016x}" for _ in range(100_000))
    cuts = KeyModel(keys[:1000]).cuts(keys[999], None, 4_000, ahead=20_000)
    first = _counts(keys, [keys[999], cuts[0]])[0]
    assert 2_000 <= first <= 8_000  # a guess from 1% of the keys; any answer is correct


def test_too_little_to_cut() -> None:
    keys = [f"k{i:03d}" for i in range(100)]
    assert KeyModel(keys).cuts(keys[50], keys[99], 40, ahead=0) == []
    assert KeyModel(["same", "same"]).cuts("same", None, 1, ahead=10) == []  # no density


def test_control_characters_are_never_bounds() -> None:
    keys = [f"a\x01{i:04d}" for i in range(1000)]
    assert all(usable_bound(c) for c in KeyModel(keys).cuts(keys[10], None, 50, ahead=500))
    assert not usable_bound("a\x01b") and usable_bound("tab\tok") and usable_bound("ü😀")


def test_no_cuts_below_the_sample() -> None:
    """A sibling's keys (all ``img…``) say nothing about ``a``..``h``: a stretch from the
    prefix itself is cut only where the sample lies, not into empty pieces before it."""
    sample = [f"live/cam08/img{i:06d}.jpg" for i in range(8, 50_000, 50)]
    model = KeyModel(sample, "live/cam08/")
    assert model.cuts("live/cam08/", sample[-1], 3_900, ahead=0, even=True) == []
    keys = [f"live/cam08/img{i:06d}.jpg" for i in range(100_000)]
    model = KeyModel(keys[:1000], "live/cam08/")
    cuts = model.cuts("live/cam08/", keys[-1], 3_900, ahead=0, even=True)
    assert cuts and cuts[0] > keys[0]
    sizes = _counts(keys, ["live/cam08/", *cuts, keys[-1]])
    assert sum(sizes) == len(keys) and max(sizes) < 2 * 3_900 and min(sizes) > 3_900 / 2


def test_a_ladder_starts_with_level_pieces_of_the_base_size() -> None:
    keys = [f"object {i:06d}.jpg" for i in range(100_000)]
    model = KeyModel(keys[:1000])
    sizes = _counts(keys, [keys[999], *model.cuts(keys[999], keys[-1], 1_000, 0, level=8)])
    assert sizes[:8] == [1_000] * 8 and sizes[8:11] == [2_000, 4_000, 8_000]
    open_sizes = _counts(keys, [keys[999], *model.cuts(keys[999], None, 1_000, 8_000, level=8)])
    assert open_sizes == [1_000] * 8  # up to `ahead`; the rest stays one open piece
