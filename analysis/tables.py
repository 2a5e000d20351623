"""Reading the Parquet tables of a run folder, with one-line errors that name the file.

A run folder copied by hand, cut short by a full disk or produced by another tool can hold
an event file that pyarrow cannot read (no Parquet footer, zero bytes, a torn data page) or
one whose columns are not the event contract. pyarrow reports each of these as a traceback
from deep inside its reader, which names neither the table's role nor the rule. The readers
here check every file before any analysis starts, and raise

* :class:`~analysis.errors.AnalysisError` for a file that is not readable Parquet:
  ``events file 'runs/x/events/part-d0001-00000.parquet' is not a readable Parquet file
  (Parquet file size is 0 bytes); it may be truncated, corrupt or of another format``;
* :class:`~analysis.errors.SchemaError` for a readable file that lacks a required column or
  has one of the wrong type (an integer ``day`` stored as text, say).

Types are checked by kind, not exact width, so a real log with ``int32`` ids or ``0/1``
flags still reads: integer columns must be integers, float columns numbers, flag columns
booleans or integers, text columns strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analysis.errors import AnalysisError, SchemaError
from analysis.schema import (
    EVENT_COLUMNS,
    REQUIRED_EVENT_COLUMNS,
    REQUIRED_USER_COLUMNS,
    USER_COLUMNS,
)

_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    # contract dtype -> (what the message says, pyarrow predicates that satisfy it)
    "int64": ("an integer", ("is_integer",)),
    "int32": ("an integer", ("is_integer",)),
    "float64": ("a number", ("is_floating", "is_integer")),
    "bool": ("a boolean (or 0/1 integer)", ("is_boolean", "is_integer")),
    "string": ("a string", ("is_string", "is_large_string", "is_dictionary")),
}


def _reason(err: BaseException) -> str:
    """pyarrow's message without its 'Could not open ... source' preamble, on one line."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    head, sep, tail = text.partition("': ")
    return tail if sep and head.startswith("Could not open") else text


def _check_schema(
    schema: pa.Schema,
    path: Path,
    required: Sequence[str],
    dtypes: Mapping[str, str],
    what: str,
) -> None:
    names = set(schema.names)
    missing = [c for c in required if c not in names]
    if missing:
        raise SchemaError(
            f"{what} file {str(path)!r} lacks column(s) {missing}; it has {schema.names} "
            "(the documented columns are in analysis.schema)"
        )
    for name in required:
        expected = dtypes.get(name)
        if expected is None or expected not in _KINDS:
            continue
        label, predicates = _KINDS[expected]
        typ = schema.field(name).type
        if not any(getattr(pa.types, p)(typ) for p in predicates):
            raise SchemaError(
                f"{what} file {str(path)!r} column {name!r} has type {typ}, must be {label}"
            )


def read_table(
    path: str | Path,
    columns: Sequence[str] | None = None,
    required: Sequence[str] = (),
    dtypes: Mapping[str, str] | None = None,
    what: str = "table",
) -> pd.DataFrame:
    """Read one Parquet file after checking that it is readable and has the columns.

    Args:
        path: The file.
        columns: Columns to read (all if ``None``); each must be present.
        required: Columns that must be present even when ``columns`` is ``None``.
        dtypes: Column -> contract dtype (``"int64"``, ``"float64"``, ``"bool"``,
            ``"string"``) for the type check of the required and selected columns.
        what: The table's role in messages, e.g. ``"events"``.

    Raises:
        AnalysisError: the file is missing, empty, truncated or not Parquet.
        SchemaError: a required or selected column is missing or of the wrong kind.
    """
    p = Path(path)
    if not p.is_file():
        raise AnalysisError(f"{what} file {str(p)!r} does not exist")
    wanted = list(dict.fromkeys([*required, *(columns or ())]))
    try:
        _check_schema(pq.read_schema(p), p, wanted, dtypes or {}, what)
        return pd.read_parquet(p, columns=None if columns is None else list(columns))
    except (pa.ArrowException, OSError) as err:
        raise AnalysisError(
            f"{what} file {str(p)!r} is not a readable Parquet file ({_reason(err)}); "
            "it may be truncated, corrupt or of another format"
        ) from None


def load_events(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read an event log from a Parquet file or a directory of Parquet files.

    Every file must be readable and hold the columns that per-user metrics need
    (:data:`~analysis.schema.REQUIRED_EVENT_COLUMNS`) or, with ``columns``, those columns,
    each of the contract's kind; otherwise one line names the file and the cause.

    Args:
        path: ``runs/<name>/events`` (a directory of ``*.parquet``) or one file.
        columns: Columns to read (all if ``None``).

    Returns:
        The events as one DataFrame.

    Raises:
        AnalysisError: no such path, no event file, or a file that is not readable Parquet.
        SchemaError: a file lacks a required column or has one of the wrong type.
    """
    p = Path(path)
    required = REQUIRED_EVENT_COLUMNS if columns is None else tuple(columns)
    if p.is_dir():
        files = sorted(p.glob("*.parquet"))
        if not files:
            raise AnalysisError(f"events path {str(p)!r} holds no *.parquet files")
    elif p.exists():
        files = [p]
    else:
        raise AnalysisError(f"events path {str(p)!r} does not exist")
    frames = [read_table(f, columns, required, EVENT_COLUMNS, "events") for f in files]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def load_users(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a ``users.parquet`` table (one row per assigned user), checked like the events.

    Raises:
        AnalysisError: no such file, or not readable Parquet.
        SchemaError: it lacks ``user_id``, ``arm`` or ``registration_day``, or one of them
            has the wrong type.
    """
    return read_table(path, columns, REQUIRED_USER_COLUMNS, USER_COLUMNS, "users")


__all__ = ["load_events", "load_users", "read_table"]
