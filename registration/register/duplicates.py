"""After a lost answer: the units left undone, and the duplicates removed (remote side).

`failed_urls` and `cancelled_urls` say which units of a final submission are sent again.
`DuplicateCleanup` carries out what `registration.register.reconcile` decides: it records the
baseline before a submission is first sent again, and once that submission's job is final it
lists the folder, writes the plan (removals and the item kept per unit) to the state, and
deletes only the planned items. Each step is written to the state before the next, so a run
killed anywhere resumes the same plan.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from registration.encord.client import EncordSession, FolderItem, FolderRef
from registration.encord.files import iter_items, unit_urls
from registration.register import reconcile
from registration.register.state import StateStore, Status, Submission


def failed_urls(sub: Submission) -> list[str]:
    """Every URL of the units that failed in a finished submission."""
    result = sub.result or {}
    return [url for error in result.get("unit_errors", []) for url in error["urls"]]


def cancelled_urls(document: dict[str, Any], sub: Submission) -> list[str]:
    """The URLs of the units a cancelled job left undone.

    The poll result counts cancelled units without naming them: a unit counts as undone
    unless it failed (by URL) or an item of its title was created. A unit skipped as a
    duplicate before the cancellation is re-sent too (and skipped again: re-sends skip
    duplicates).
    """
    result = sub.result or {}
    if not int(result.get("cancelled", 0)):
        return []
    failed = set(failed_urls(sub))
    created = Counter(str(name) for _, name in result.get("items", []))
    undone: list[str] = []
    for list_key, entry in iter_items(document):
        urls = unit_urls(list_key, entry)
        title = entry.get("title")
        if failed.intersection(urls):
            continue
        if isinstance(title, str) and created[title] > 0:
            created[title] -= 1
            continue
        undone += urls
    return undone


class DuplicateCleanup:
    """Records baselines and removes a lost answer's duplicates in one folder (thread-safe)."""

    def __init__(self, session: EncordSession, state: StateStore, folder: FolderRef) -> None:
        self.session = session
        self.state = state
        self.folder = folder
        self._reconciling = threading.Lock()

    def _urls_of(self, items: list[FolderItem], units: list[reconcile.Unit]) -> dict[str, Any]:
        """The URLs of the listed items that could be one of `units` (`reconcile.relevant`)."""
        found: dict[str, tuple[str, ...]] = {}
        for item in items:
            if reconcile.relevant(item, units):
                found[item.uuid] = (
                    self.session.child_urls(item) if item.multi_file else (str(item.url),)
                )
        return found

    def record_baseline(self, sub: Submission, document: dict[str, Any]) -> None:
        """Before a submission is first sent again: the items its units could be confused with."""
        if sub.baseline is not None or self.state.get(sub.id).baseline is not None:
            return
        units = reconcile.units(document)
        search = reconcile.search_for(units)
        wanted = {unit.urls for unit in units}
        listed = self.session.list_items(self.folder.handle, search)
        seen = {
            uid: list(urls) for uid, urls in self._urls_of(listed, units).items() if urls in wanted
        }
        self.state.mark_baseline(sub.id, {"search": search, "items": seen})

    def reconcile(
        self, sub: Submission, document_of: Callable[[Submission], dict[str, Any]]
    ) -> None:
        """Remove the duplicates re-sends after a lost answer made, once (`reconcile.plan`).

        The item kept per unit is recorded with the plan: the report counts it as registered.
        """
        if not sub.lost_answer or sub.status is not Status.FINISHED or sub.removed is not None:
            return
        if sub.baseline is None:  # written by a version without this check: nothing is known
            self.state.mark_reconciled(sub.id, [])
            return
        search = sub.baseline.get("search")
        with self._reconciling:  # one at a time: each sees the removals of the others
            planned = sub.reconcile_plan
            resumed = planned is not None
            if planned is None:
                document = document_of(sub)
                units = reconcile.units(document)
                baseline = {str(k): tuple(v) for k, v in sub.baseline.get("items", {}).items()}
                listed = self.session.list_items(self.folder.handle, search)
                urls_of = self._urls_of(listed, units)
                removals = reconcile.plan(units, baseline, listed, urls_of)
                undone = {*failed_urls(sub), *cancelled_urls(document, sub)}
                kept = reconcile.kept(units, baseline, listed, urls_of, undone)
                planned = [r.to_json() for r in removals]
                self.state.mark_reconcile_plan(sub.id, planned, [k.to_json() for k in kept])
            if planned:
                self._remove([str(r["uuid"]) for r in planned], search, resumed)
            self.state.mark_reconciled(sub.id, planned)

    def _remove(self, uuids: list[str], search: str | None, resumed: bool) -> None:
        """Delete `uuids` (those still there, when resumed or retried)."""

        def attempt(number: int) -> None:
            targets = uuids
            if resumed or number > 1:
                # An earlier attempt may have removed some already: delete what is left.
                listed = self.session.list_items(self.folder.handle, search)
                present = {item.uuid for item in listed}
                targets = [uid for uid in uuids if uid in present]
            if targets:
                self.session.delete_items_once(self.folder.handle, targets)

        self.session.call(f"removing {len(uuids)} duplicate items", attempt)
