"""List a bucket with ListObjectsV2, several workers at once, keys in sorted order.

With one worker each prefix is listed page after page. With more, the key space is cut
into pieces listed concurrently and read back in key order, so the output -- every record,
in order -- is the same as the sequential listing:

- each prefix is first split one level at the delimiter '/': its direct objects, and one
  piece per sub-prefix;
- a piece that turns out large (a flat prefix, a big sub-prefix) is cut again into key
  ranges ``(StartAfter, upto]`` at points guessed from the keys it has read
  (`key_ranges.KeyModel`); pieces near the reader are listed first.

Memory stays bounded: at most `_WINDOW_PER_WORKER` pieces per worker are open at once,
each holding at most `PAGES_BUFFERED_PER_PIECE` pages.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from registration.build.sources import ObjectRecord
from registration.build.sources.key_ranges import KeyModel, usable_bound
from registration.build.sources.list_plan import (
    END,
    Entry,
    Piece,
    Plan,
    Siblings,
    Unit,
)
from registration.build.sources.s3_access import s3_error
from registration.build.sources.s3_pages import ListPage, fetch_page
from registration.build.sources.tiering import TierResolver

DEFAULT_LIST_WORKERS = 8
_WINDOW_PER_WORKER = 2
"""Pieces open (being listed or waiting to be read) per worker, counted from the reader."""
_PIECE_KEYS = 1_900
"""Keys per piece when cutting: just under two pages of 1,000, so a piece usually ends
inside its second page and fits its buffer (`PAGES_BUFFERED_PER_PIECE`). Measured against
the 80 ms bench: 3,900 (four pages) left the last pieces listed page by page on their
own, flat 100,000 keys 2.1 s against 1.6 s; 950 gave the same as 1,900 with more requests."""
_PAGES_BEFORE_CUT = 2
"""Pages a sub-prefix lists on its own before it is cut, when no sibling has shown how
large it may be (many sub-prefixes are smaller than this)."""
_MAX_KEYS: int | None = None
"""Keys per page asked of S3; None leaves S3's default and maximum, 1,000 (tests ask less)."""
_MAX_PENDING_UNITS = 2_000
"""Direct objects handed to the reader in one batch."""
_DELIMITER = "/"


def normalise_prefixes(prefixes: Iterable[str]) -> list[str]:
    """Sorted prefixes with every prefix covered by a shorter one dropped (no duplicates)."""
    result: list[str] = []
    for prefix in sorted(set(prefixes)):
        if result and prefix.startswith(result[-1]):
            continue
        result.append(prefix)
    return result or [""]


class BucketLister:
    """Lists one bucket through a boto3 S3 client."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        workers: int = DEFAULT_LIST_WORKERS,
        head_intelligent_tiering: bool = False,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.workers = max(1, workers)
        self.tiers = TierResolver(client, bucket, head=head_intelligent_tiering)

    def _fetch(self, params: dict[str, Any]) -> ListPage:
        try:
            return fetch_page(self.client, self.bucket, params)
        except Exception as exc:
            raise s3_error(exc, bucket=self.bucket, action="listing") from exc

    def _pages(self, prefix: str, **extra: str) -> Iterator[ListPage]:
        """Pages under `prefix`, as botocore's paginator would request them."""
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": prefix,
            "OptionalObjectAttributes": ["RestoreStatus"],
            **extra,
        }
        if _MAX_KEYS is not None:
            params["MaxKeys"] = _MAX_KEYS
        while True:
            page = self._fetch(params)
            yield page
            if not page.is_truncated or not page.next_token:
                return
            params["ContinuationToken"] = page.next_token

    def iter_objects(self, prefixes: Iterable[str] = ("",)) -> Iterator[ObjectRecord]:
        """Every object under `prefixes`, sorted by key."""
        prefixes = normalise_prefixes(prefixes)
        if self.workers == 1:
            for prefix in prefixes:
                for page in self._pages(prefix):
                    for record in page.objects:
                        yield self.tiers.resolve(record)
            return
        entries: list[Entry] = [Piece(p, Unit(p, Siblings(1)), expand=True) for p in prefixes]
        yield from self._concurrent(Plan(entries, self.workers * _WINDOW_PER_WORKER))

    def _concurrent(self, plan: Plan) -> Iterator[ObjectRecord]:
        with ThreadPoolExecutor(self.workers, thread_name_prefix="s3-list") as pool:
            for _ in range(self.workers):
                pool.submit(self._work, plan)
            try:
                yield from self._read(plan)
            finally:
                with plan.cond:
                    plan.stop = True
                    plan.cond.notify_all()

    @staticmethod
    def _read(plan: Plan) -> Iterator[ObjectRecord]:
        while True:
            with plan.cond:
                if not plan.order:
                    return
                head = plan.order[0]
            if isinstance(head, list):
                yield from head
                item: Any = END
            else:
                item = head.queue.get()
            if item is END:
                with plan.cond:
                    plan.order.pop(0)
                    plan.cond.notify_all()
                continue
            if isinstance(item, BaseException):
                raise item
            yield from item

    def _work(self, plan: Plan) -> None:
        while True:
            with plan.cond:
                piece = plan.take()
                while piece is None:
                    if plan.stop or plan.finished():
                        return
                    plan.cond.wait()
                    piece = plan.take()
                plan.active += 1
            try:
                if piece.expand:
                    self._expand(piece, plan)
                else:
                    self._list(piece, plan)
            except BaseException as exc:  # handed to the reader, re-raised there in order
                plan.put(piece, exc)
            finally:
                with plan.cond:
                    plan.active -= 1
                    plan.cond.notify_all()

    def _expand(self, piece: Piece, plan: Plan) -> None:
        """One delimiter page of the piece: its direct objects and sub-prefixes, in key
        order (S3 sorts Contents and CommonPrefixes of a page in one order), then the rest."""
        extra = {"Delimiter": _DELIMITER}
        if piece.token is not None:
            extra["ContinuationToken"] = piece.token
        page = next(self._pages(piece.prefix, **extra))
        units: list[tuple[str, ObjectRecord | str]] = [(r.key, r) for r in page.objects]
        units += [(p, p) for p in page.common_prefixes]
        units.sort(key=lambda unit: unit[0])
        entries: list[Entry] = []
        batch: list[ObjectRecord] = []
        siblings = Siblings(len(page.common_prefixes))
        for _, unit in units:
            if isinstance(unit, ObjectRecord):
                batch.append(self.tiers.resolve(unit))
                if len(batch) >= _MAX_PENDING_UNITS:
                    entries.append(batch)
                    batch = []
                continue
            if batch:
                entries.append(batch)
                batch = []
            entries.append(Piece(unit, Unit(unit, siblings)))
        if batch:
            entries.append(batch)
        if page.is_truncated and page.next_token and units:
            entries += self._rest(piece, page, units)
        plan.replace(piece, entries)
        plan.put(piece, END)

    def _rest(
        self, piece: Piece, page: ListPage, units: list[tuple[str, ObjectRecord | str]]
    ) -> list[Entry]:
        """What follows a truncated delimiter page: plain key ranges after its last key when
        it showed mostly direct objects (a flat prefix), cut using the keys just read; else
        the next delimiter page."""
        last, unit = units[-1]
        flat = isinstance(unit, ObjectRecord) and len(page.objects) * 2 >= len(units)
        if not flat or not usable_bound(last):
            return [Piece(piece.prefix, piece.unit, expand=True, token=page.next_token)]
        rest = Unit(piece.prefix, Siblings(1))
        return self._pieces(piece.prefix, rest, [r.key for r in page.objects], last, None)

    def _pieces(
        self, prefix: str, unit: Unit, sample: list[str], after: str, upto: str | None
    ) -> list[Entry]:
        """``(after, upto]`` cut into pieces guessed from `sample` (one piece if no cut).

        An open stretch is cut up to where a sibling says the sub-prefix ends, if that is
        still ahead; else in a ladder of about one base-size piece per worker (`_ahead`),
        whose first pieces, one per worker for a flat prefix, are all of the base size
        (fewer workers wait for a re-cut). The open piece left after it is listed before
        the others (`Plan.take`): its first page cuts the next stretch while they run.
        """
        cuts: list[str] = []
        if len(sample) > 1:
            model = KeyModel(sample, prefix)
            if upto is None and unit.expect is not None and unit.expect > after:
                cuts = model.cuts(after, unit.expect, _PIECE_KEYS, 0, even=True)
            else:
                ahead = 0.0  # a bounded stretch is cut to its end; `ahead` is for open ones
                if upto is None:
                    ahead = self._ahead(unit)
                    unit.rounds += 1
                level = max(2, self.workers // unit.siblings.count)
                cuts = model.cuts(after, upto, _PIECE_KEYS, ahead, level=level)
        bounds = [after, *cuts, upto]
        return [
            Piece(prefix, unit, after=low, upto=high, sampled=high is None)
            for low, high in itertools.pairwise(bounds)
        ]

    def _ahead(self, unit: Unit) -> float:
        """Keys to cut ahead of an open stretch: its share of one piece per worker, doubling
        with each cut of the same stretch up to one piece per worker (a large sub-prefix
        among many small ones ends up listed by every worker).

        It depends only on the keys and the cuts made, never on how far other pieces have
        got: the same bucket is cut at the same points on every run (and in the benchmark,
        which caches the server's answers, asks the same requests).
        """
        share = self.workers * _PIECE_KEYS / unit.siblings.count
        grown = _PIECE_KEYS * 2.0**unit.rounds
        return min(self.workers * _PIECE_KEYS, max(share, grown))

    def _list(self, piece: Piece, plan: Plan) -> None:
        """List the piece's keys, cutting off what follows when it turns out large."""
        first = piece.after is None
        if first and piece.upto is None:
            self._cut_like_siblings(piece, plan)
        extra = {} if piece.after is None else {"StartAfter": piece.after}
        for page in self._pages(piece.prefix, **extra):
            upto = piece.upto
            done = ended = not page.is_truncated
            batch = []
            for record in page.objects:
                if upto is not None and record.key > upto:
                    done, ended = True, False
                    break
                batch.append(self.tiers.resolve(record))
            piece.pages += 1
            siblings, start = piece.unit.siblings, len(piece.unit.prefix)
            if first and piece.pages == 1 and not done and siblings.sample is None:
                siblings.sample = [r.key[start:] for r in batch]
            if ended and batch:  # the end of the sub-prefix
                siblings.last = batch[-1].key[start:]
            if not done and len(batch) > 1 and self._cut(piece, batch, plan):
                done = True
            if batch and not plan.put(piece, batch):
                return
            if done:
                break
        plan.put(piece, END)

    def _cut(self, piece: Piece, batch: list[ObjectRecord], plan: Plan) -> bool:
        """Cut the rest of a large piece into new pieces after it; True when done so."""
        if piece.upto is not None:
            decide = piece.pages == 1
        else:  # open-ended: it may be cut again as it grows
            decide = (piece.sampled and piece.pages == 1) or piece.pages % _PAGES_BEFORE_CUT == 0
        if not decide:
            return False
        keys = [r.key for r in batch]
        if not usable_bound(keys[-1]):
            return False
        pieces = self._pieces(piece.prefix, piece.unit, keys, keys[-1], piece.upto)
        if len(pieces) < 2:
            return False
        piece.upto = keys[-1]
        plan.replace(piece, pieces)
        return True

    def _cut_like_siblings(self, piece: Piece, plan: Plan) -> None:
        """Cut a sub-prefix before listing it, where a sibling's keys say it will be large."""
        siblings, prefix = piece.unit.siblings, piece.unit.prefix
        if siblings.count < 2 or siblings.sample is None or siblings.last is None:
            return
        sample = [prefix + key for key in siblings.sample]
        end = prefix + siblings.last
        if len(sample) < 2 or not usable_bound(end):
            return
        piece.unit.expect = end
        cuts = KeyModel(sample, prefix).cuts(prefix, end, _PIECE_KEYS, ahead=0, even=True)
        if not cuts:
            return
        bounds: list[str | None] = [*cuts, None]
        piece.upto = cuts[0]
        plan.replace(
            piece,
            [Piece(prefix, piece.unit, after=a, upto=b) for a, b in itertools.pairwise(bounds)],
        )
