"""A unit sent again after its first send's fate was lost: record first, clean up after.

`register` handles a lost answer this way (`registration.register.reconcile`), and so does the
handler, with the same pure rules, one unit at a time: before a unit whose fate is unknown is
sent again, the items that hold exactly its URLs are recorded on its claim (`baseline`; never
replaced). Once its last job is final, the items holding its URLs are listed again: of those
absent from the baseline (made by the lost job or the re-send; Encord may run both side by
side, and then both insert), the oldest is kept and the others are removed. An item recorded
in the baseline is never removed. Listing uses the unit's title as the search, and compares
exact URLs (a multi-file item's files are read).
"""

from __future__ import annotations

from dataclasses import dataclass

from registration.continuous.target import EncordTarget
from registration.encord.client import FolderItem
from registration.register import reconcile

Urls = tuple[str, ...]


@dataclass(frozen=True)
class Reconciled:
    """The item kept for the unit (None: none was made), and the duplicates removed."""

    item: str | None
    removed: tuple[str, ...]


def _holders(
    target: EncordTarget, title: str, urls: Urls
) -> tuple[list[FolderItem], dict[str, Urls]]:
    session, handle = target.session, target.folder.handle
    unit = [reconcile.Unit(title, urls)]
    listed = session.list_items(handle, title or None)
    urls_of: dict[str, Urls] = {}
    for item in listed:
        if reconcile.relevant(item, unit):
            urls_of[item.uuid] = session.child_urls(item) if item.multi_file else (str(item.url),)
    return listed, urls_of


def baseline(target: EncordTarget, title: str, urls: Urls) -> list[str]:
    """The UUIDs of the items that hold exactly `urls` now."""
    _, urls_of = _holders(target, title, urls)
    return sorted(uuid for uuid, held in urls_of.items() if held == urls)


def reconcile_unit(
    target: EncordTarget, title: str, urls: Urls, recorded: list[str], *, undone: bool
) -> Reconciled:
    """Remove the duplicates of one unit made after `recorded` (its baseline); `undone`: the
    final job did not do the unit (failed or cancelled), so nothing made for it is kept."""
    listed, urls_of = _holders(target, title, urls)
    unit = [reconcile.Unit(title, urls)]
    before = {uuid: urls for uuid in recorded}
    removals = reconcile.plan(unit, before, listed, urls_of)
    kept = reconcile.kept(unit, before, listed, urls_of, urls if undone else ())
    doomed = [r.uuid for r in removals]
    if doomed:
        session, handle = target.session, target.folder.handle

        def attempt(number: int) -> None:
            targets = doomed
            if number > 1:  # an earlier attempt may have removed some: delete what is left
                present = {item.uuid for item in session.list_items(handle, title or None)}
                targets = [uuid for uuid in doomed if uuid in present]
            if targets:
                session.delete_items_once(handle, targets)

        session.call(f"removing {len(doomed)} duplicate item(s) of {title!r}", attempt)
    item = kept[0].uuid if kept else next((u for u in recorded if u in urls_of), None)
    return Reconciled(item, tuple(doomed))
