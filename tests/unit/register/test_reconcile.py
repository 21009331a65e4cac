"""Which items the clean-up after a lost answer removes: only copies made after it."""

from __future__ import annotations

from registration.encord.client import FolderItem
from registration.register.reconcile import Kept, Unit, kept, plan, search_for, units

DOC = {
    "images": [
        {"objectUrl": "u/a.jpg", "title": "cam/a.jpg"},
        {"objectUrl": "u/b.jpg", "title": "cam/b.jpg"},
    ],
    "image_groups": [{"title": "cam/g", "objectUrl_0": "u/g0", "objectUrl_1": "u/g1"}],
}


def _item(uid: str, name: str, url: str | None, at: str, kind: str = "image") -> FolderItem:
    return FolderItem(uid, name, kind, url, at)


def _urls(items: list[FolderItem], groups: dict[str, tuple[str, ...]] | None = None):
    found = {i.uuid: (i.url,) for i in items if i.url}
    return {**found, **(groups or {})}


def test_units_and_search():
    found = units(DOC)
    assert found == [
        Unit("cam/a.jpg", ("u/a.jpg",)),
        Unit("cam/b.jpg", ("u/b.jpg",)),
        Unit("cam/g", ("u/g0", "u/g1")),
    ]
    assert search_for(found) == "cam/"
    assert search_for([Unit(None, ("x",)), *found]) is None  # an untitled unit: list all
    assert search_for([Unit("a", ("x",)), Unit("b", ("y",))]) is None


def test_new_copies_keep_the_oldest():
    listed = [
        _item("j1-a", "cam/a.jpg", "u/a.jpg", "2026-01-01T00:00:01"),
        _item("j2-a", "cam/a.jpg", "u/a.jpg", "2026-01-01T00:00:02"),
        _item("j3-a", "cam/a.jpg", "u/a.jpg", "2026-01-01T00:00:03"),
        _item("j1-b", "cam/b.jpg", "u/b.jpg", "2026-01-01T00:00:01"),
        _item("j1-g", "cam/g", None, "2026-01-01T00:00:01", "imageGroup"),
        _item("j2-g", "cam/g", None, "2026-01-01T00:00:02", "imageGroup"),
    ]
    groups = {"j1-g": ("u/g0", "u/g1"), "j2-g": ("u/g0", "u/g1")}
    removals = plan(units(DOC), {}, listed, _urls(listed, groups))
    assert [(r.uuid, r.kept) for r in removals] == [
        ("j2-a", "j1-a"),
        ("j2-g", "j1-g"),
        ("j3-a", "j1-a"),
    ]
    # The kept one per unit is registered, whichever job made it ...
    assert kept(units(DOC), {}, listed, _urls(listed, groups)) == [
        Kept("j1-a", ("u/a.jpg",)),
        Kept("j1-b", ("u/b.jpg",)),
        Kept("j1-g", ("u/g0", "u/g1")),
    ]
    # ... unless the final job left its unit undone (sent again, and counted there).
    assert [k.uuid for k in kept(units(DOC), {}, listed, _urls(listed, groups), {"u/g1"})] == [
        "j1-a",
        "j1-b",
    ]


def test_items_from_before_are_never_removed():
    listed = [
        # Someone registered a.jpg twice before the re-send: both are in the baseline.
        _item("p1", "cam/a.jpg", "u/a.jpg", "2025-01-01T00:00:00"),
        _item("p2", "cam/a.jpg", "u/a.jpg", "2025-01-02T00:00:00"),
        # The file (skip_duplicate_urls off) registered a.jpg again: what it asked for.
        _item("j1-a", "cam/a.jpg", "u/a.jpg", "2026-01-01T00:00:01"),
        # Not named as the unit, or other URLs: never a candidate.
        _item("x1", "other-name.jpg", "u/b.jpg", "2026-01-01T00:00:01"),
        _item("x2", "cam/b.jpg", "u/other.jpg", "2026-01-01T00:00:02"),
        _item("j1-b", "cam/b.jpg", "u/b.jpg", "2026-01-01T00:00:03"),
    ]
    baseline = {"p1": ("u/a.jpg",), "p2": ("u/a.jpg",)}
    assert plan(units(DOC), baseline, listed, _urls(listed)) == []
    # a.jpg was registered before (a skipped duplicate); b.jpg only by this file's calls.
    assert kept(units(DOC), baseline, listed, _urls(listed)) == [Kept("j1-b", ("u/b.jpg",))]
