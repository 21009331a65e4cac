"""`--metadata FILE`: ambiguous columns are refused, rows for one key are resolved on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from registration.build.bulk_metadata import load_metadata_file
from registration.errors import InputError


def _file(tmp_path: Path, text: str, name: str = "meta.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("key,site,key\na.jpg,paris,b.jpg\n", "'key'"),  # the second key used to win
        ("key,site,site\na.jpg,paris,lyon\n", "'site'"),
    ],
)
def test_a_csv_header_naming_a_column_twice_is_refused(
    tmp_path: Path, text: str, named: str
) -> None:
    with pytest.raises(InputError) as caught:
        load_metadata_file(_file(tmp_path, text))
    assert f"the header names the column(s) {named} more than once" in caught.value.message


@pytest.mark.parametrize(
    "line",
    [
        '{"key": "a.jpg", "site": "paris", "key": "b.jpg"}',
        '{"key": "a.jpg", "camera": {"model": "x", "model": "y"}}',
        '{"key": "a.jpg", "boxes": [{"x": 1, "x" : 2}], "note": "say \\":\\" twice"}',
    ],
)
def test_a_json_line_giving_a_field_twice_is_refused(tmp_path: Path, line: str) -> None:
    with pytest.raises(InputError) as caught:
        load_metadata_file(_file(tmp_path, line + "\n", "meta.jsonl"))
    assert "line 1: the field" in caught.value.message and "is given twice" in caught.value.message


def test_colons_inside_values_are_no_fields(tmp_path: Path) -> None:
    line = '{"key": "a.jpg", "note": "a \\"b\\": c", "n": {"k" : [1, {"j": 2}]}}\n'
    table = load_metadata_file(_file(tmp_path, line, "meta.jsonl"))
    assert table.documents == {"a.jpg": {"note": 'a "b": c', "n": {"k": [1, {"j": 2}]}}}


def test_a_csv_cell_outside_the_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_metadata_file(_file(tmp_path, "key,site\na.jpg,paris\nb.jpg,lyon,extra\n"))
    assert "line 3: a value in a column the header does not name" in caught.value.message
    # Empty trailing cells (a spreadsheet's habit) are no value.
    table = load_metadata_file(_file(tmp_path, "key,site,\na.jpg,paris,\n"))
    assert table.documents == {"a.jpg": {"site": "paris"}}


ROWS = "key,site\na.jpg,paris\nb.jpg,rome\na.jpg,lyon\nb.jpg,rome\na.jpg,nice\n"
JSONL_ROWS = "".join(
    f'{{"key": "{k}", "site": "{v}"}}\n'
    for k, v in [
        ("a.jpg", "paris"),
        ("b.jpg", "rome"),
        ("a.jpg", "lyon"),
        ("b.jpg", "rome"),
        ("a.jpg", "nice"),
    ]
)


@pytest.mark.parametrize(("name", "text"), [("m.csv", ROWS), ("m.jsonl", JSONL_ROWS)])
def test_rows_that_differ_for_one_key_are_refused_by_default(
    tmp_path: Path, name: str, text: str
) -> None:
    with pytest.raises(InputError) as caught:
        load_metadata_file(_file(tmp_path, text, name))
    message = caught.value.message
    lines = "2, 4, 6" if name.endswith(".csv") else "1, 3, 5"
    assert f"1 key(s) have rows that differ ('a.jpg' (lines {lines}))" in message
    assert "--metadata-duplicates first|last" in (caught.value.hint or "")


@pytest.mark.parametrize(("policy", "site"), [("first", "paris"), ("last", "nice")])
def test_first_or_last_row_wins_when_asked_and_is_reported(
    tmp_path: Path, policy: str, site: str
) -> None:
    table = load_metadata_file(_file(tmp_path, ROWS), duplicates=policy)
    assert table.documents == {"a.jpg": {"site": site}, "b.jpg": {"site": "rome"}}
    assert table.conflicts == {"a.jpg": [2, 4, 6]}
    assert table.repeated_rows == 1  # b.jpg's second row is the same: nothing to choose
    assert table.warnings() == [
        f"--metadata: 1 key(s) have rows that differ ('a.jpg' (lines 2, 4, 6)); the {policy} "
        f"row of each was used (--metadata-duplicates {policy})",
        "--metadata: 1 row(s) repeat an earlier row of the same key exactly; ignored",
    ]


def test_identical_repeated_rows_are_not_refused(tmp_path: Path) -> None:
    table = load_metadata_file(_file(tmp_path, "key,site\na.jpg,paris\na.jpg,paris\n"))
    assert table.documents == {"a.jpg": {"site": "paris"}}
    assert table.repeated_rows == 1 and not table.conflicts


def test_a_byte_order_mark_does_not_hide_the_key_column(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffkey,site\na.jpg,paris\n".encode())
    assert load_metadata_file(path).documents == {"a.jpg": {"site": "paris"}}
