"""The event log: columnar numpy chunks streamed to Parquet row groups.

Layout of a run directory::

    DIR/events/part-00000.parquet   one row per impression, columns EVENT_COLUMNS
    DIR/users.parquet               USER_COLUMNS + one int column per user meta field
    DIR/items.parquet               item_id, release_day, item_seconds, artist_id + item meta

Rows are buffered as numpy chunks and written as one row group each time ``chunk_rows``
rows are pending; a file holds at most ``rows_per_file`` rows. Memory therefore follows
the chunk size, not the number of events. Files are byte-identical for identical inputs:
row order is the engine's (deterministic) order and no timestamp goes into the metadata.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from simulator.errors import SimulationError
from simulator.types import EVENT_COLUMNS, USER_COLUMNS

_ARROW_TYPES: dict[str, pa.DataType] = {
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
}

EVENT_SCHEMA = pa.schema([(name, _ARROW_TYPES[t]) for name, t in EVENT_COLUMNS.items()])
"""Arrow schema of every event file (the contract of :data:`simulator.types.EVENT_COLUMNS`)."""

_NUMPY_TYPES: dict[str, type[np.generic]] = {
    "int64": np.int64,
    "int32": np.int32,
    "float64": np.float64,
    "bool": np.bool_,
}

# Written with fixed options so that the bytes depend on the data alone.
_WRITE_OPTIONS: dict[str, object] = {"compression": "zstd", "write_statistics": True}


class EventLog:
    """Append-only event log of one run.

    Args:
        directory: The run directory (``events/`` is created inside it).
        arm_names: Arm names; events carry the arm as an index into this sequence.
        chunk_rows: Rows buffered before a row group is written.
        rows_per_file: Rows per ``part-*.parquet`` before a new file is started.
    """

    def __init__(
        self,
        directory: str | Path,
        arm_names: Sequence[str],
        chunk_rows: int = 500_000,
        rows_per_file: int = 20_000_000,
    ) -> None:
        if chunk_rows < 1:
            raise SimulationError(f"chunk_rows == {chunk_rows}, must be >= 1")
        self.directory = Path(directory)
        self.events_dir = self.directory / "events"
        self.events_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.events_dir.glob("part-*.parquet"):
            stale.unlink()  # a rerun into the same directory must not mix logs
        self.arm_names = pa.array(list(arm_names), pa.string())
        self.chunk_rows = chunk_rows
        self.rows_per_file = max(rows_per_file, chunk_rows)
        self._pending: list[dict[str, NDArray[np.generic]]] = []
        self._pending_rows = 0
        self._writer: pq.ParquetWriter | None = None
        # One writer thread: compression and disk I/O release the GIL, so they overlap
        # with the simulation; a single worker keeps row groups in order, and waiting for
        # the previous write before queueing the next bounds memory to two chunks.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventlog")
        self._inflight: Future[None] | None = None
        self._file_rows = 0
        self._n_files = 0
        self.n_rows = 0
        self.closed = False

    def append(self, columns: Mapping[str, NDArray[np.generic]]) -> None:
        """Buffer one batch; ``columns`` has every event column, ``arm`` as int indices."""
        if self.closed:
            raise SimulationError("append to a closed EventLog")
        missing = set(EVENT_COLUMNS) - set(columns)
        if missing:
            raise SimulationError(f"event batch lacks columns {sorted(missing)}")
        n = int(np.asarray(columns["user_id"]).shape[0])
        if n == 0:
            return
        self._pending.append({k: np.asarray(columns[k]) for k in EVENT_COLUMNS})
        self._pending_rows += n
        self.n_rows += n
        while self._pending_rows >= self.chunk_rows:
            self._flush(self.chunk_rows)

    def _take_rows(self, n_rows: int) -> dict[str, NDArray[np.generic]]:
        """Pop exactly ``n_rows`` buffered rows (splitting a batch if needed)."""
        taken: list[dict[str, NDArray[np.generic]]] = []
        need = n_rows
        while need > 0:
            head = self._pending[0]
            size = int(head["user_id"].shape[0])
            if size <= need:
                taken.append(self._pending.pop(0))
                need -= size
            else:
                taken.append({k: v[:need] for k, v in head.items()})
                self._pending[0] = {k: v[need:] for k, v in head.items()}
                need = 0
        self._pending_rows -= n_rows
        return {k: np.concatenate([t[k] for t in taken]) for k in EVENT_COLUMNS}

    def _flush(self, n_rows: int) -> None:
        cols = self._take_rows(n_rows)
        new_file = self._writer is None or self._file_rows + n_rows > self.rows_per_file
        if new_file:
            self._file_rows = 0
            path = self.events_dir / f"part-{self._n_files:05d}.parquet"
            self._n_files += 1
        self._file_rows += n_rows
        self._wait()
        if new_file:
            self._close_writer()
            self._writer = pq.ParquetWriter(path, EVENT_SCHEMA, **_WRITE_OPTIONS)  # type: ignore[arg-type]
        writer = self._writer
        assert writer is not None
        self._inflight = self._pool.submit(self._write_chunk, writer, cols)

    def _write_chunk(self, writer: pq.ParquetWriter, cols: dict[str, NDArray[np.generic]]) -> None:
        """Convert one chunk to Arrow and write it as a row group (on the writer thread)."""
        arrays = []
        for name, dtype in EVENT_COLUMNS.items():
            if name == "arm":
                arrays.append(pc.take(self.arm_names, pa.array(cols[name].astype(np.int32))))
            else:
                arrays.append(pa.array(cols[name].astype(_NUMPY_TYPES[dtype], copy=False)))
        writer.write_table(pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA))

    def _wait(self) -> None:
        if self._inflight is not None:
            self._inflight.result()  # re-raises a failed write here
            self._inflight = None

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def flush(self) -> None:
        """Write every buffered row."""
        if self._pending_rows:
            self._flush(self._pending_rows)

    def close(self) -> None:
        """Flush and close; an empty log still gets one (empty) file with the schema."""
        if self.closed:
            return
        self.flush()
        self._wait()
        self._pool.shutdown(wait=True)
        if self._n_files == 0:
            pq.write_table(
                EVENT_SCHEMA.empty_table(),
                self.events_dir / "part-00000.parquet",
                **_WRITE_OPTIONS,  # type: ignore[arg-type]
            )
            self._n_files = 1
        self._close_writer()
        self.closed = True

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_users(
    path: str | Path,
    registration_day: NDArray[np.int64],
    arm: Sequence[str] | NDArray[np.str_],
    cohort: Sequence[str] | NDArray[np.str_],
    meta: NDArray[np.int64],
    meta_names: Sequence[str],
) -> Path:
    """Write ``users.parquet``: USER_COLUMNS then one int64 column per user meta field."""
    n = registration_day.shape[0]
    columns: dict[str, pa.Array] = {
        "user_id": pa.array(np.arange(n, dtype=np.int64)),
        "arm": pa.array(np.asarray(arm, dtype=object), pa.string()),
        "registration_day": pa.array(registration_day.astype(np.int32)),
        "cohort": pa.array(np.asarray(cohort, dtype=object), pa.string()),
    }
    if list(columns) != list(USER_COLUMNS):
        raise SimulationError("users.parquet columns drifted from USER_COLUMNS")
    for f, name in enumerate(meta_names):
        columns[name] = pa.array(meta[:, f].astype(np.int64))
    p = Path(path)
    pq.write_table(pa.table(columns), p, **_WRITE_OPTIONS)  # type: ignore[arg-type]
    return p


def write_items(
    path: str | Path,
    release_day: NDArray[np.int64],
    item_seconds: NDArray[np.float64],
    artist_id: NDArray[np.int64],
    meta: NDArray[np.int64],
    meta_names: Sequence[str],
) -> Path:
    """Write ``items.parquet``: item_id, release_day, item_seconds, artist_id, item meta."""
    n = release_day.shape[0]
    columns: dict[str, pa.Array] = {
        "item_id": pa.array(np.arange(n, dtype=np.int64)),
        "release_day": pa.array(release_day.astype(np.int32)),
        "item_seconds": pa.array(item_seconds.astype(np.float64)),
        "artist_id": pa.array(artist_id.astype(np.int64)),
    }
    for f, name in enumerate(meta_names):
        columns[name] = pa.array(meta[:, f].astype(np.int64))
    p = Path(path)
    pq.write_table(pa.table(columns), p, **_WRITE_OPTIONS)  # type: ignore[arg-type]
    return p


def read_events(directory: str | Path, columns: Sequence[str] | None = None) -> pa.Table:
    """Read every event file of a run directory (in file order) into one Arrow table."""
    files = sorted((Path(directory) / "events").glob("part-*.parquet"))
    if not files:
        raise SimulationError(f"no event files in {Path(directory) / 'events'}")
    cols = list(columns) if columns is not None else None
    return pa.concat_tables([pq.read_table(f, columns=cols) for f in files])


__all__ = ["EVENT_SCHEMA", "EventLog", "read_events", "write_items", "write_users"]
