"""Reading run-folder tables: a broken or foreign file is one line naming it and the cause."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from analysis.errors import AnalysisError, SchemaError
from analysis.metrics import load_events
from analysis.tables import load_users, read_table

EVENTS = pd.DataFrame(
    {
        "minute": [1, 2, 3],
        "day": pd.array([0, 0, 1], dtype="int32"),
        "user_id": [0, 1, 0],
        "item_id": [5, 6, 7],
        "arm": ["control", "treatment", "control"],
        "session_id": [10, 11, 12],
        "listen_seconds": [30.0, 200.0, 10.0],
        "finish": [False, True, False],
        "like": [False, True, False],
        "comment": [False, False, False],
        "dislike": [True, False, False],
    }
)


def _good(path: Path) -> None:
    EVENTS.to_parquet(path, index=False)


def _truncated(path: Path) -> None:
    _good(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _torn_page(path: Path) -> None:
    """The footer survives, a data page does not (the footer's offsets point at garbage)."""
    big = pd.concat([EVENTS] * 2000, ignore_index=True)
    big["listen_seconds"] = range(len(big))
    big.to_parquet(path, index=False, compression=None)
    data = bytearray(path.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8  # metadata length, then b"PAR1"
    end = len(data) - footer
    data[8:end] = os.urandom(end - 8)
    path.write_bytes(bytes(data))


def _text_day(path: Path) -> None:
    EVENTS.assign(day=EVENTS["day"].astype(str)).to_parquet(path, index=False)


BROKEN: list[tuple[str, Callable[[Path], None], type[Exception], str]] = [
    # (case, how the file is written, exception, message pattern)
    ("empty", lambda p: p.write_bytes(b""), AnalysisError, r"is not a readable Parquet file"),
    (
        "not parquet",
        lambda p: p.write_text("minute,day\n1,0\n"),
        AnalysisError,
        r"is not a readable Parquet file \(Parquet magic bytes not found",
    ),
    ("truncated", _truncated, AnalysisError, r"is not a readable Parquet file.*truncated"),
    ("torn page", _torn_page, AnalysisError, r"is not a readable Parquet file"),
    (
        "other columns",
        lambda p: pd.DataFrame({"x": [1]}).to_parquet(p),
        SchemaError,
        r"lacks column\(s\) \['day', 'user_id'",
    ),
    (
        "one column missing",
        lambda p: EVENTS.drop(columns="finish").to_parquet(p),
        SchemaError,
        r"lacks column\(s\) \['finish'\]",
    ),
    ("text day", _text_day, SchemaError, r"column 'day' has type (large_)?string, must be an int"),
]


@pytest.mark.parametrize(("case", "write", "exc", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_event_file_is_one_line_naming_it(
    tmp_path: Path,
    case: str,
    write: Callable[[Path], None],
    exc: type[Exception],
    message: str,
) -> None:
    events = tmp_path / "events"
    events.mkdir()
    _good(events / "part-d0000-00000.parquet")
    bad = events / "part-d0001-00000.parquet"
    write(bad)
    for target in (events, bad):  # a folder of files, or the one file
        with pytest.raises(exc, match=message) as info:
            load_events(target)
        text = str(info.value)
        assert "\n" not in text
        assert f"events file {str(bad)!r}" in text


def test_selected_columns_must_exist_and_a_good_log_reads(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    _good(path)
    assert load_events(path).equals(EVENTS)
    assert list(load_events(path, columns=["day", "arm"]).columns) == ["day", "arm"]
    with pytest.raises(SchemaError, match=r"lacks column\(s\) \['pscore'\]"):
        load_events(path, columns=["day", "pscore"])


def test_a_real_log_with_other_widths_and_integer_flags_reads(tmp_path: Path) -> None:
    path = tmp_path / "e.parquet"
    other = EVENTS.astype({"user_id": "int32", "finish": "int8", "listen_seconds": "int64"})
    other.to_parquet(path)
    assert len(load_events(path)) == 3


def test_missing_paths_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match=r"events path .*nope' does not exist"):
        load_events(tmp_path / "nope")
    with pytest.raises(AnalysisError, match=r"holds no \*\.parquet files"):
        load_events(tmp_path)
    with pytest.raises(AnalysisError, match=r"users file .*users\.parquet' does not exist"):
        load_users(tmp_path / "users.parquet")


def test_users_table_is_checked_like_the_events(tmp_path: Path) -> None:
    path = tmp_path / "users.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(AnalysisError, match=re.escape(f"users file {str(path)!r} is not")):
        load_users(path)
    pd.DataFrame({"user_id": [1], "arm": ["control"]}).to_parquet(path)
    with pytest.raises(SchemaError, match=r"lacks column\(s\) \['registration_day'\]"):
        load_users(path)
    pd.DataFrame({"user_id": [1], "arm": ["c"], "registration_day": [0]}).to_parquet(path)
    assert len(load_users(path)) == 1
    assert list(read_table(path, columns=["arm"], what="users").columns) == ["arm"]
