"""Where to cut a stretch of S3 keys so that several workers can list it at once.

S3 cannot skip ahead by a number of keys, only to a key (``StartAfter``), so cut points
are guesses made from keys already seen. `KeyModel` reads the shape of a sample of keys
(the characters seen at each position after their common stem, widened to whole digit,
hex and letter classes) and treats keys as numbers in that mixed radix: the sample's
density then says about where the key N places further on lies.

A guess only decides how the work is shared, never what is listed: a range
``(after, upto]`` is listed from ``StartAfter=after`` until a key sorts above ``upto``,
so any increasing cut points partition the keys exactly, even keys deleted or added
meanwhile. S3 sorts keys by their UTF-8 bytes, which for the valid Unicode S3 accepts (no
surrogates) is the order of Python's ``str`` comparison, so cut points are plain strings.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from collections.abc import Sequence

MAX_MODEL_POSITIONS = 16
"""Positions after the stem that the model distinguishes; later ones barely move a cut."""
MAX_LADDER_PIECES = 12
"""Most pieces one split of an open-ended stretch creates, beyond its first `level`."""
MAX_EVEN_PIECES = 64
"""Most pieces a stretch of known extent is cut into at once (the last one may grow)."""

_CLASSES = (
    "0123456789",
    "0123456789abcdef",
    "0123456789ABCDEF",
    "abcdefghijklmnopqrstuvwxyz",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
)
_END = ""
"""A key that ends before a position: sorts below every character."""
_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def usable_bound(text: str) -> bool:
    """True when `text` can be sent as ``StartAfter``: S3 repeats it in its XML answer,
    URL-encoded, but some S3-compatible servers (moto among them) write it as it is, and
    XML 1.0 has no way to carry most control characters."""
    return _NOT_IN_XML.search(text) is None


def _widen(chars: set[str]) -> list[str]:
    """The characters seen at one position, completed to the smallest classes holding them."""
    alphabet = set(chars)
    for char in chars:
        for cls in _CLASSES:
            if char in cls and all(c in cls or not c.isalnum() for c in chars):
                alphabet.update(cls)
                break
    return sorted(alphabet)


def _stem(keys: Sequence[str], floor: str) -> str:
    """The keys' common start, cut back to its last separator: digits and letters before
    it may still change further on (``img_000`` of ``img_000123`` could become ``img_001``)."""
    common = os.path.commonprefix(list(keys))  # noqa: RUF071 -- characters are meant
    cut = len(common)
    while cut > len(floor) and common[cut - 1].isalnum():
        cut -= 1
    return common[: max(cut, len(floor))]


class KeyModel:
    """Keys read as numbers in a mixed radix learned from a sorted sample of them."""

    def __init__(self, sample: Sequence[str], floor: str = "") -> None:
        """`sample`: sorted keys (at least two); `floor`: a stem every key is known to
        start with (the listing prefix)."""
        self.stem = _stem(sample, floor)
        start = len(self.stem)
        longest = max(len(k) for k in sample)
        self.alphabets: list[list[str]] = []
        for position in range(start, min(longest, start + MAX_MODEL_POSITIONS)):
            seen = {k[position] if position < len(k) else _END for k in sample}
            self.alphabets.append(sorted(_widen(seen - {_END}) + ([_END] if _END in seen else [])))
        self.size = 1
        for alphabet in self.alphabets:
            self.size *= len(alphabet)
        self.first = self.rank(sample[0])
        """Where the sample starts: below it the model knows nothing about the keys."""
        span = self.rank(sample[-1]) - self.first
        self.density = (len(sample) - 1) / span if span > 0 else 0.0
        """Keys per unit of rank, as seen in the sample."""

    def rank(self, key: str) -> int:
        """The key's place in the model (0 .. size), never decreasing in key order."""
        if not key.startswith(self.stem):
            return 0 if key < self.stem else self.size
        rest = key[len(self.stem) :]
        value = 0
        for position, alphabet in enumerate(self.alphabets):
            char = rest[position] if position < len(rest) else _END
            index = bisect_right(alphabet, char) - 1
            if index < 0:  # below every model value that starts like this
                return self._pad(value * len(alphabet), position, high=False)
            value = value * len(alphabet) + index
            if alphabet[index] != char:  # between two model values: above all that follow
                return self._pad(value, position, high=True)
        return value

    def _pad(self, value: int, position: int, *, high: bool) -> int:
        for alphabet in self.alphabets[position + 1 :]:
            value = value * len(alphabet) + (len(alphabet) - 1 if high else 0)
        return value

    def key_at(self, rank: int) -> str:
        """The string the model puts at `rank` (used as a cut point)."""
        digits = []
        for alphabet in reversed(self.alphabets):
            rank, index = divmod(rank, len(alphabet))
            digits.append(alphabet[index])
        chars = []
        for char in reversed(digits):
            if char == _END:
                break
            chars.append(char)
        return self.stem + "".join(chars)

    def estimate(self, after: str, upto: str | None) -> float:
        """About how many keys lie in ``(after, upto]`` (``upto`` None: to the model's end)."""
        high = self.size if upto is None else self.rank(upto)
        return max(0, high - self.rank(after)) * self.density

    def cuts(
        self,
        after: str,
        upto: str | None,
        per_piece: int,
        ahead: float,
        *,
        even: bool = False,
        level: int = 2,
    ) -> list[str]:
        """Cut points splitting ``(after, upto]`` (``upto`` None: open-ended) into pieces.

        Pieces start at about `per_piece` keys, `level` of them, then double in size (1, 1,
        2, 4, ... times for a `level` of 2; a lister gives its worker count), so that the
        stretch next to `after` -- read first -- is in small pieces, and a wrong guess about
        far-off keys costs a few empty or large pieces, not many; a large piece is cut again
        once listing it shows its density. An open stretch is cut up to about `ahead` keys
        beyond `after`, the rest stays one open piece. With `even`, a bounded stretch is cut
        in equal pieces (at most `MAX_EVEN_PIECES`). Returns increasing strings strictly
        between `after` and `upto`; empty when no cut is worth making.

        Cutting starts at the sample's first key when `after` lies below it: the model's
        radix spans every character seen at a position (widened to its class), so below
        the sample it would count keys that the sample says nothing about (``a``.. ``h``
        before keys that all start with ``img``) and cut many empty pieces, each costing a
        request.
        """
        if self.density <= 0:
            return []
        start = max(self.rank(after), self.first)
        high = self.size if upto is None else self.rank(upto)
        step = per_piece / self.density
        if (high - start) < step * 1.5:
            return []
        ranks: list[float] = []
        if even and upto is not None:
            count = min(round((high - start) / step), MAX_EVEN_PIECES)
            ranks = [start + (high - start) * i / count for i in range(1, count)]
        else:
            reach, size = step, step
            while len(ranks) < MAX_LADDER_PIECES + level and high - (start + reach) >= step / 2:
                ranks.append(start + reach)
                if upto is None and reach * self.density >= ahead:
                    break
                if len(ranks) >= level:
                    size *= 2
                reach += size
        points: list[str] = []
        for rank in ranks:
            point = self.key_at(int(rank))
            if (
                point > after
                and (upto is None or point < upto)
                and (not points or point > points[-1])
                and usable_bound(point)
            ):
                points.append(point)
        return points
