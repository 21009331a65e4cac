"""Removing the duplicates a lost answer can leave behind, and nothing else.

A start call whose answer was lost (a timeout, a dropped connection, a crash before the job
UUID was stored) may still have created a job on Encord. The document is then sent again
with `skip_duplicate_urls`, which only prevents duplicates if Encord finishes the lost job
before the re-sent one checks for duplicates. When Encord runs both side by side, both check
before either inserts, and a unit ends up registered twice (or more, after several lost
answers in a row, whose jobs' item UUIDs are never known).

So, before a submission is first sent again, the items of the folder that could be confused
with its units are recorded (`baseline`: those the listing `search` returns whose URLs are a
unit's; kept in the state file, never replaced). Once its last job is final, the folder is
listed again with the same search. An item can only be removed when it was absent from the
baseline, is named as a unit of the document and holds exactly that unit's URLs: created
after the lost answer, by the lost job or a re-send. For each unit's URLs:
- an item recorded in the baseline holds them: nothing is removed (the re-sends skipped
  them; a newer item is what the file itself asked for, with `skip_duplicate_urls` off);
- else, of the new items holding them, the oldest is kept and the others are removed.
An item that existed before the re-send, whoever registered it, is never removed: it is in
the baseline, or the search does not return it, or it holds other URLs or another name.

The item kept per unit (`kept`) was created by this tool's own calls after the lost answer,
whichever job made it (the lost one, whose item UUIDs are never known, or a re-send): the
report counts it as a registered unit of the file, with its UUID, not as a skipped duplicate.
A unit a baseline item holds stays a skipped duplicate (registered before this send); one the
final job left undone stays failed or cancelled (it is sent again, and skipped there).

Decided here (pure), carried out by the registrar: the plan and the kept items are written to
the state before anything is deleted, so a crash between the steps resumes the same removals
and reports the same.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from registration.encord.client import FolderItem
from registration.encord.files import iter_items, unit_urls

Urls = tuple[str, ...]


@dataclass(frozen=True)
class Unit:
    """One unit of a document, as duplicate detection sees it."""

    title: str | None
    urls: Urls


@dataclass(frozen=True)
class Removal:
    """A duplicate to remove, and the item kept instead."""

    uuid: str
    urls: Urls
    kept: str

    def to_json(self) -> dict[str, Any]:
        """As stored in the state file and shown in the report."""
        return {"uuid": self.uuid, "urls": list(self.urls), "kept": self.kept}


@dataclass(frozen=True)
class Kept:
    """The item kept for a unit: created after the lost answer, a registered unit of the file."""

    uuid: str
    urls: Urls

    def to_json(self) -> dict[str, Any]:
        """As stored in the state file."""
        return {"uuid": self.uuid, "urls": list(self.urls)}


def units(document: dict[str, Any]) -> list[Unit]:
    """Every unit of a registration document: its title (None when it has none) and URLs."""
    found = []
    for list_key, entry in iter_items(document):
        title = entry.get("title")
        found.append(Unit(title if isinstance(title, str) else None, unit_urls(list_key, entry)))
    return found


def search_for(document_units: Iterable[Unit]) -> str | None:
    """The name search that returns every item named as a unit: the titles' common prefix.

    None (list every item) when a unit has no title or the titles share no prefix.
    """
    titles = [unit.title for unit in document_units]
    if not titles or any(title is None for title in titles):
        return None
    # Characters, not path parts: the search matches names by their text.
    prefix = os.path.commonprefix([t for t in titles if t is not None])  # noqa: RUF071
    return prefix or None


def relevant(item: FolderItem, document_units: Iterable[Unit]) -> bool:
    """Whether an item could be one of the units: a single file with a unit's URL, or a
    multi-file item named as a unit (its files' URLs are read to compare)."""
    if item.multi_file:
        return any(len(u.urls) > 1 and u.title in (None, item.name) for u in document_units)
    return item.url is not None


def _new_holders(
    document_units: Iterable[Unit],
    baseline: Mapping[str, Urls],
    listed: Iterable[FolderItem],
    urls_of: Mapping[str, Urls],
) -> dict[Urls, list[FolderItem]]:
    """Per unit's URLs, the listed items created after the lost answer, oldest first.

    Only for URLs no baseline item holds; only items absent from the baseline, named as a
    unit and holding exactly its URLs.
    """
    titles: dict[Urls, set[str | None]] = {}
    for unit in document_units:
        titles.setdefault(unit.urls, set()).add(unit.title)
    held_before = set(baseline.values())
    new: dict[Urls, list[FolderItem]] = {}
    for item in listed:
        urls = urls_of.get(item.uuid)
        if item.uuid in baseline or urls is None or urls in held_before:
            continue
        names = titles.get(urls)
        if names is not None and (None in names or item.name in names):
            new.setdefault(urls, []).append(item)
    for holders in new.values():
        holders.sort(key=lambda item: (item.created_at, item.uuid))
    return new


def plan(
    document_units: Iterable[Unit],
    baseline: Mapping[str, Urls],
    listed: Iterable[FolderItem],
    urls_of: Mapping[str, Urls],
) -> list[Removal]:
    """Which listed items to remove (see the module docstring).

    `baseline` maps the UUIDs recorded before the re-send to their URLs; `urls_of` gives a
    listed item's URLs (its `url`, or its files' URLs for a multi-file item).
    """
    removals: list[Removal] = []
    for urls, holders in _new_holders(document_units, baseline, listed, urls_of).items():
        removals += [Removal(item.uuid, urls, holders[0].uuid) for item in holders[1:]]
    return sorted(removals, key=lambda r: r.uuid)


def kept(
    document_units: Iterable[Unit],
    baseline: Mapping[str, Urls],
    listed: Iterable[FolderItem],
    urls_of: Mapping[str, Urls],
    undone: Collection[str] = (),
) -> list[Kept]:
    """The item `plan` keeps per unit: registered by this tool's calls after the lost answer.

    Same arguments as `plan`; `undone` holds the URLs of the units the final job failed or
    cancelled, whose items are left out (the registrar sends those units again, and the
    report counts them there: a unit is counted once).
    """
    holders = _new_holders(document_units, baseline, listed, urls_of)
    found = [
        Kept(items[0].uuid, urls)
        for urls, items in holders.items()
        if not set(urls).intersection(undone)
    ]
    return sorted(found, key=lambda k: k.uuid)
