"""The parts the parallel build stands on: sorted runs read from any key, a file's bytes
from its items' bytes, and the schema split into a file's shape and its items."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import registration.build.sources.sorted_runs as sorted_runs
from registration.build.chunking import FileCutter
from registration.build.items import BuiltItem
from registration.build.sources.sorted_runs import boundaries, rows_from, spill_runs
from registration.build.writer import (
    EncodedItem,
    FileLayout,
    ManifestWriter,
    build_document,
)
from registration.encord.schema import (
    ManifestInvalid,
    envelope_valid,
    item_list_validators,
    registration_schema,
)
from registration.errors import InputError, RegisterError, RemoteError, UsageError

KEYS = st.text(alphabet="ab/.é0", min_size=1, max_size=5)


@settings(max_examples=120, deadline=None)
@given(
    files=st.lists(st.lists(KEYS, max_size=40), min_size=1, max_size=4),
    start=st.one_of(st.none(), KEYS),
    run_rows=st.integers(1, 9),
)
def test_rows_from_any_key_are_the_sorted_rows_from_it(
    tmp_path_factory: pytest.TempPathFactory,
    files: list[list[str]],
    start: str | None,
    run_rows: int,
) -> None:
    """Duplicates included, in the order of the runs given (the sequential sort's order),
    with blocks of 3 rows so that a key's copies straddle blocks."""
    directory = tmp_path_factory.mktemp("runs")
    original, sorted_runs.BLOCK_ROWS = sorted_runs.BLOCK_ROWS, 3
    try:
        rows = [[(key, f, n) for n, key in enumerate(keys)] for f, keys in enumerate(files)]
        runs = []
        for f, part in enumerate(rows):
            runs += spill_runs(part, run_rows, directory, f"f{f}")
    finally:
        sorted_runs.BLOCK_ROWS = original
    everything = sorted((row for part in rows for row in part), key=lambda row: row[0])
    expected = [row for row in everything if start is None or row[0] >= start]
    assert list(rows_from(runs, start)) == expected
    cuts = boundaries(runs, 5)
    assert cuts == sorted(set(cuts))
    assert not everything or all(cut > everything[0][0] for cut in cuts)


ITEMS = [
    BuiltItem("image", "images", {"objectUrl": "https://b/x y.jpg", "title": "x"}, 1, ("x",), "b"),
    BuiltItem("video", "videos", {"objectUrl": "https://b/v.mp4", "title": "ü"}, 1, ("v",), "b"),
    BuiltItem(
        "image_group",
        "image_groups",
        {"title": "g", "objectUrl_0": "https://b/g/1.png", "createVideo": False},
        1,
        ("g/1.png",),
        "b",
    ),
    BuiltItem("image", "images", {"objectUrl": "https://b/z.jpg", "title": "z"}, 1, ("z",), "b"),
]


@pytest.mark.parametrize("upsert", [False, True])
@pytest.mark.parametrize("count", [1, 2, 4])
def test_a_file_from_its_items_bytes_is_the_documents_bytes(upsert: bool, count: int) -> None:
    layout = FileLayout(skip_duplicate_urls=True, upsert_metadata=upsert)
    chunk = ITEMS[:count]
    lists: dict[str, list[bytes | memoryview]] = {}
    for built in chunk:
        lists.setdefault(built.top_key, []).append(orjson.dumps(built.item))
    document = build_document(chunk, skip_duplicate_urls=True, upsert_metadata=upsert)
    assert layout.encode(lists) == orjson.dumps(document) + b"\n"


DOCUMENTS: list[Any] = [
    {"images": [{"objectUrl": "https://b/x.jpg"}], "skip_duplicate_urls": True},
    {"images": [{"objectUrl": 3}], "skip_duplicate_urls": True},
    {"images": [{"title": "no url"}], "skip_duplicate_urls": True},
    {"videos": [{"objectUrl": "https://b/v.mp4", "clientMetadata": []}]},
    {"images": [], "skip_duplicate_urls": "yes"},
    {"pictures": [{"objectUrl": "https://b/x.jpg"}]},
    {"skip_duplicate_urls": True},
    {"image_groups": [{"title": "g", "objectUrl_0": "https://b/1.png"}]},
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_split_schema_accepts_exactly_what_the_schema_accepts(document: Any) -> None:
    import jsonschema

    whole = jsonschema.Draft202012Validator(registration_schema()).is_valid(document)
    lists = {k: v for k, v in document.items() if isinstance(v, list)}
    flags = {k: v for k, v in document.items() if not isinstance(v, list)}
    validators = item_list_validators()
    items_ok = all(
        name in validators and all(validators[name][1].is_valid(item) for item in items)
        for name, items in lists.items()
    )
    lists_ok = all(
        name not in validators or validators[name][0].is_valid(items)
        for name, items in lists.items()
    )
    shape_ok = envelope_valid({name: len(items) for name, items in lists.items()}, flags)
    assert (shape_ok and items_ok and lists_ok) == whole


def test_a_suspect_chunk_is_refused_with_the_words_of_the_sequential_writer(
    tmp_path: Path,
) -> None:
    bad = BuiltItem("image", "images", {"objectUrl": 3, "title": "x"}, 1, ("x",), "b")
    chunk = [ITEMS[0], bad]
    words = []
    for name, write in (
        ("a", lambda w: w.write_chunk(chunk, max_bytes=10_000)),
        (
            "b",
            lambda w: w.write_encoded(
                {"images": [orjson.dumps(b.item) for b in chunk]},
                [EncodedItem(b.top_key, orjson.dumps(b.item), b.kind, b.urls) for b in chunk],
                max_bytes=10_000,
                suspect=True,
            ),
        ),
    ):
        (tmp_path / name).mkdir()
        writer = ManifestWriter(tmp_path / name)
        with pytest.raises(ManifestInvalid) as refused:
            write(writer)
        writer.close()
        words.append(str(refused.value))
    assert words[0] == words[1] and "images[1]" in words[0]


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(
        st.tuples(st.integers(1, 60), st.integers(0, 2), st.integers(1, 4)), max_size=80
    ),
    max_items=st.integers(1, 12),
    max_urls=st.integers(4, 30),
    max_bytes=st.integers(200, 900),
    split=st.integers(0, 80),
)
def test_placing_a_run_of_items_cuts_where_adding_them_one_by_one_does(
    items: list[tuple[int, int, int]], max_items: int, max_urls: int, max_bytes: int, split: int
) -> None:
    """Including a run given in two parts (a file spanning two segments)."""
    layout = FileLayout(skip_duplicate_urls=True, upsert_metadata=False)
    names = ("images", "videos", "image_groups")
    one = FileCutter(layout, max_items, max_urls, max_bytes)
    expected = [(i, cut) for i, (s, t, u) in enumerate(items) if (cut := one.add(s, names[t], u))]
    many = FileCutter(layout, max_items, max_urls, max_bytes)
    columns = [[item[n] for item in items] for n in range(3)]
    head = many.place(*(c[:split] for c in columns), names)
    tail = many.place(*(c[split:] for c in columns), names)
    assert head + [(i + min(split, len(items)), cut) for i, cut in tail] == expected
    assert (many.items, many.urls, many.size) == (one.items, one.urls, one.size)


@pytest.mark.parametrize(
    "error",
    [
        UsageError("bad flag", hint="use another"),
        InputError("unreadable", source="data/part-1.csv.gz", hint="copy it again"),
        ManifestInvalid("m: item x", source="m", item="images[1] (x)", path="$.images[1]"),
        RemoteError("S3 kept failing"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_cross_from_a_worker_process_whole(error: RegisterError) -> None:
    import pickle

    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert vars(again) == vars(error) and str(again) == str(error)
    assert again.exit_status == error.exit_status
