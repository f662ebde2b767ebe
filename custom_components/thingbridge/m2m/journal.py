"""A durable journal of tracker positions in SQLite, written off the event loop.

The gateway acknowledges a device's data only once :meth:`TrackerJournal.append` has
returned, so the journal is the point where a position stops being the device's problem:
``append`` returns after the transaction is **committed**. Traccar's devices (Teltonika,
GT06, the Traccar Client apps) resend until they get an ACK, so the same records come back
after a lost ACK; a UNIQUE index on the record's identity recognises them and ``append``
reports them as not new (at-least-once delivery becomes exactly-once storage). Device
timestamps are kept as sent; records of one call are stored in the order given, and ``seq``
numbers grow in arrival order.

Identity: the whole record, not its time and place: the device, protocol and fix time
(columns) and ``digest``, a 128-bit BLAKE2b hash of every other decoded field as stored,
without the two fields that describe the transmission rather than the record, ``archive``
(GT06 marks a re-upload) and ``checksum_ok``. Two reports of one second and place that
differ in anything else (ignition off after ignition on, another odometer) are both stored
and reported; a resend is the same bytes, which the decoders turn into the same fields (they
take no server time, except for a fix that carries no time at all, which was never
recognisable as a resend). The time the gateway received a record is a column, not part of
the identity.

Storage: ``data`` is a JSON array (``orjson``) of the fields that are not columns, in
:data:`_STORED_FIELDS` order, then ``checksum_ok`` and ``archive``; the digest hashes the
array without those two. The unique index of the identity leads with the fix time
(``positions_key``: fix time, device, protocol, digest): a fleet's fixes are near now, so a
group commit's new keys land together at the index's end. The per-device reads (a device's
fixes in time order, its newest) use ``positions_by_device``, an index table led by the
device that is written in batches of :data:`INDEX_BATCH` rows (or every
:data:`INDEX_INTERVAL` seconds, and at open) rather than in every commit: an index led by
the device takes a page of every device that reports, and every commit wrote each of those
pages to the WAL again (measured in ``bench.trackers_gateway``: half of SQLite's work per
record; 1,000 devices, 2,400 rows a commit). Rows newer than the last batch are found by a
scan of the table's end. ``journal_state`` holds the last indexed ``seq``.

Schema versions (``PRAGMA user_version``): 1 keyed records by (device, fix time, latitude,
longitude, protocol); 2 adds ``digest`` and keys by it; 3 writes the JSON with ``orjson``;
all three store a JSON object of every field that is not ``None``; 4 stores the array above
(half the bytes, a third of the encoding work); 5 moves the identity index to the fix time
and adds ``positions_by_device`` (rows unchanged). Opening an older file converts it in
place in one transaction: every row of versions 1-3 gets today's ``data`` and digest, every
row is indexed by device, no row is lost (a damaged row, or a second copy of a record, is kept as it was and
still read), a resend of a record stored before the upgrade is still recognised; if the
conversion fails the file stays as it was.

Threading: every SQLite call runs on one dedicated worker thread that owns the single
connection (``ThreadPoolExecutor(max_workers=1)``; sqlite3's ``check_same_thread`` stays
on), so nothing blocks the event loop. Concurrent ``append`` calls are **group-committed**:
whatever arrived while a transaction was being written goes into the next one, so a
thousand connections share one ``fsync`` instead of queueing a thousand.

Durability: WAL mode with ``synchronous=FULL``. In WAL mode ``NORMAL`` survives a crash of
the process but not a power cut (the last commits can roll back), and a position whose ACK
went out is gone from the device's memory; ``FULL`` syncs the WAL at every commit, and the
group commit keeps that cost per batch rather than per record. The WAL is copied back into
the database (a checkpoint) every :data:`WAL_CHECKPOINT_PAGES` pages rather than SQLite's
1,000: a busy fleet's commit rewrites one index page per device, and a page rewritten by
several commits between two checkpoints is copied once (in a test of 200,000 rows from
1,000 devices, a fifth less SQLite CPU per record and half the commit time); the WAL
file left after a checkpoint is cut back to :data:`WAL_SIZE_LIMIT` bytes.

Bounded growth: rows older than ``retention_days`` (by the time they were *received*, so a
late-arriving buffered record is kept as long as its duplicates may still come) are pruned
at open and then every ``prune_interval`` seconds, in chunks; each device's newest position
is always kept, so :meth:`TrackerJournal.latest` survives quiet periods.

Every SQLite failure becomes a :class:`JournalError` naming the operation and the file; the
caller then withholds the ACK so the device keeps its data.

Written by hand on the standard library's :mod:`sqlite3`: ``aiosqlite`` would add a runtime
requirement and turn each statement into a separate loop round trip, while the journal needs
whole transactions (dedupe, insert, commit) run as one job on its thread — about twenty lines.

Speed: a group commit inserts its rows with multi-row ``INSERT`` statements of at most
:data:`INSERT_CHUNK` rows (one SQLite call, so one release of the GIL, per chunk rather than
per row: the event loop is not made to hand the GIL back and forth with this thread for
every record); when SQLite reports fewer changes than rows (resends), the rows that were new
are found by their ``seq`` (above the largest before the insert). JSON is encoded and
decoded with ``orjson`` (bundled with Home Assistant): a decoded record's values go to it as
they are, and only what it refuses (``bytes`` in ``io``, non-text keys) takes the
field-by-field code; both give the same text. Integers beyond 64 bits, which orjson cannot
write and would read back as floats, go through the standard library's :mod:`json` (a test
checks both).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
import functools
from hashlib import blake2b
from itertools import chain
import json
import logging
import math
import operator
import os
from pathlib import Path
import re
import sqlite3
import time
from typing import Any, Self, TypeVar

import orjson

from .errors import M2MError
from .trackers.model import Position

_LOGGER = logging.getLogger(__name__)

SCHEMA_VERSION = 5
INSERT_CHUNK = 256
"""Rows per ``INSERT`` statement (8 parameters each, far below SQLite's limit of 32,766)."""
WAL_CHECKPOINT_PAGES = 10_000
"""Checkpoint the WAL when it holds this many pages (about 40 MiB)."""
WAL_SIZE_LIMIT = 64 * 1024 * 1024
DEFAULT_RETENTION_DAYS = 30.0
DEFAULT_PRUNE_INTERVAL = 3600.0
PRUNE_CHUNK = 5000
INDEX_BATCH = 100_000
"""Rows added to ``positions_by_device`` at a time (see :meth:`TrackerJournal._index_sync`).

The larger the batch, the more rows each device's index page takes at once (CPU per
record, measured at 1,000 devices: 20,000 rows 1.9 µs, 100,000 rows 0.4 µs). The appends
that complete a batch are answered first; the appends after them wait while the batch is
written (0.1-0.7 s for 100,000 rows on the shared 2-core machine, once every 100,000
records), and a read scans up to this many newer rows (about 12 ms for 100,000).
"""
INDEX_INTERVAL = 300.0
"""Seconds after which fewer rows than :data:`INDEX_BATCH` are indexed all the same."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_T = TypeVar("_T")
_ONE_US = timedelta(microseconds=1)
_POSITION_FIELDS = tuple(f.name for f in fields(Position) if f.name != "raw")
_POSITION_FIELD_SET = frozenset(_POSITION_FIELDS)
_TRANSMISSION_FIELDS = ("checksum_ok", "archive")
"""How a record travelled, not what it says: left out of its identity."""
_COLUMN_FIELDS = ("protocol", "device_id", "fix_time")
"""Stored in their own columns (and part of the identity key), not in ``data``."""
_STORED_FIELDS = tuple(
    name
    for name in _POSITION_FIELDS
    if name not in _COLUMN_FIELDS and name not in _TRANSMISSION_FIELDS
)
"""The fields of ``data``'s array, in order; the transmission fields follow them."""
_DATA_FIELDS = (*_STORED_FIELDS, *_TRANSMISSION_FIELDS)
_get_stored = operator.attrgetter(*_STORED_FIELDS)
_json_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode
_FLAGS = (None, True, False)
_TAILS = {(c, a): b"," + orjson.dumps([c, a])[1:] for c in _FLAGS for a in _FLAGS}
"""``data``'s end for each (``checksum_ok``, ``archive``): ``,true,null]``."""
_LONG_NUMBER = re.compile(r"\d{20}")  # 2**64 has 20 digits: orjson reads it as a float
_blake2b = blake2b

_SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    protocol TEXT NOT NULL,
    device_id TEXT NOT NULL,
    fix_time_us INTEGER NOT NULL,
    lat_e7 INTEGER NOT NULL,
    lon_e7 INTEGER NOT NULL,
    received_us INTEGER NOT NULL,
    data TEXT NOT NULL,
    digest BLOB NOT NULL DEFAULT x''
);
CREATE UNIQUE INDEX IF NOT EXISTS positions_key
    ON positions (fix_time_us, device_id, protocol, digest);
CREATE INDEX IF NOT EXISTS positions_received ON positions (received_us);
CREATE TABLE IF NOT EXISTS positions_by_device (
    device_id TEXT NOT NULL,
    protocol TEXT NOT NULL,
    fix_time_us INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (device_id, protocol, fix_time_us, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS journal_state (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS frames (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    protocol TEXT NOT NULL,
    device_id TEXT NOT NULL,
    received_us INTEGER NOT NULL,
    kind TEXT NOT NULL,
    raw BLOB NOT NULL,
    digest BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS frames_record ON frames (device_id, protocol, digest);
CREATE INDEX IF NOT EXISTS frames_received ON frames (received_us);
"""
# positions_key is the identity (and finds a resend's row); positions_by_device serves the
# per-device reads for the rows up to the indexed seq (see _index_sync).

# Versions 1-4 -> 5, inside the open transaction; the rows of 1-3 are converted in between.
_MIGRATE_1_ADD = "ALTER TABLE positions ADD COLUMN digest BLOB NOT NULL DEFAULT x''"
_MIGRATE_ROWS = (
    "SELECT seq, protocol, device_id, fix_time_us, data, digest FROM positions"
    " WHERE seq > ? ORDER BY seq LIMIT 5000"
)
_MIGRATE_SET = "UPDATE OR IGNORE positions SET data = ?, digest = ? WHERE seq = ?"
_MIGRATE_SET_DIGEST = "UPDATE OR IGNORE positions SET digest = ? WHERE seq = ?"
_MIGRATE_1_INDEX = "DROP INDEX IF EXISTS positions_identity"
_MIGRATE_4_INDEX = "DROP INDEX IF EXISTS positions_record"  # versions 2-4: led by the device
_SELECT_RECORD = "SELECT seq, received_us, protocol, device_id, fix_time_us, data FROM positions"

_INSERT_HEAD = (
    "INSERT OR IGNORE INTO positions"
    " (protocol, device_id, fix_time_us, lat_e7, lon_e7, received_us, data, digest) VALUES "
)
_INSERT_ROW = "(?,?,?,?,?,?,?,?)"
_COLUMNS = 8
_INSERT_SQL: dict[int, str] = {}


def _insert_sql(rows: int) -> str:
    """The ``INSERT`` statement of ``rows`` rows (its text is cached, and so is SQLite's plan)."""
    sql = _INSERT_SQL.get(rows)
    if sql is None:
        sql = _INSERT_SQL[rows] = _INSERT_HEAD + ",".join([_INSERT_ROW] * rows)
    return sql


_MAX_SEQ = "SELECT MAX(seq) FROM positions"
_SEQ_OF = (
    "SELECT seq FROM positions"
    " WHERE device_id = ? AND protocol = ? AND fix_time_us = ? AND digest = ?"
)

# Rows received before ?1, except each (device, protocol)'s newest fix, at most ?2 of them:
# the newest of the indexed rows and the newest of the rows after the indexed seq ?3 are kept
# (one of them is the device's newest; the prune indexes first, so the second set is
# usually empty).
_PRUNE_ROWS = """
SELECT seq, device_id, protocol, fix_time_us FROM positions
WHERE received_us < ?1
  AND seq NOT IN (
    SELECT (SELECT b.seq FROM positions_by_device AS b
            WHERE b.device_id = d.device_id AND b.protocol = d.protocol
            ORDER BY b.fix_time_us DESC, b.seq DESC LIMIT 1)
    FROM (SELECT DISTINCT device_id, protocol FROM positions_by_device) AS d
    UNION ALL
    SELECT seq FROM (
        SELECT seq, row_number() OVER (
            PARTITION BY device_id, protocol ORDER BY fix_time_us DESC, seq DESC) AS newest
        FROM positions NOT INDEXED WHERE seq > ?3)
    WHERE newest = 1)
LIMIT ?2
"""
_DELETE_ROW = "DELETE FROM positions WHERE seq = ?"
_DELETE_BY_DEVICE = (
    "DELETE FROM positions_by_device"
    " WHERE device_id = ? AND protocol = ? AND fix_time_us = ? AND seq = ?"
)

# positions_by_device gets the rows after the indexed seq (?1) up to ?2 in one transaction
_INDEX_ROWS = (
    "INSERT OR IGNORE INTO positions_by_device (device_id, protocol, fix_time_us, seq)"
    " SELECT device_id, protocol, fix_time_us, seq FROM positions WHERE seq > ?1 AND seq <= ?2"
    " ORDER BY device_id, protocol, fix_time_us, seq"  # in the index's order: a fifth cheaper
)
_INDEXED_SEQ = "SELECT value FROM journal_state WHERE name = 'indexed_seq'"
_SET_INDEXED_SEQ = "INSERT OR REPLACE INTO journal_state (name, value) VALUES ('indexed_seq', ?)"
# A device's rows: those of positions_by_device, and the newer ones not indexed yet (a scan of
# the table's end by seq; NOT INDEXED keeps the planner off the identity index).
_INDEXED_ROWS = "SELECT fix_time_us, seq FROM positions_by_device WHERE device_id = ?"
_NEWER_ROWS = "SELECT fix_time_us, seq FROM positions NOT INDEXED WHERE seq > ? AND device_id = ?"
_COUNT_INDEXED = "SELECT COUNT(*) FROM positions_by_device WHERE device_id = ?"
_COUNT_NEWER = "SELECT COUNT(*) FROM positions NOT INDEXED WHERE seq > ? AND device_id = ?"
_DEVICES = (
    "SELECT DISTINCT protocol, device_id FROM positions_by_device"
    " UNION SELECT protocol, device_id FROM positions NOT INDEXED WHERE seq > ?"
    " ORDER BY 1, 2"
)

_INSERT_FRAME = (
    "INSERT OR IGNORE INTO frames (protocol, device_id, received_us, kind, raw, digest)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_PRUNE_FRAMES = (
    "DELETE FROM frames WHERE seq IN (SELECT seq FROM frames WHERE received_us < ?1 LIMIT ?2)"
)


def _indexed_seq(conn: sqlite3.Connection) -> int:
    """The last ``seq`` in ``positions_by_device`` (as stored: another connection may index)."""
    row = conn.execute(_INDEXED_SEQ).fetchone()
    return int(row[0]) if row else 0


@contextmanager
def _writing(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _index_rows(conn: sqlite3.Connection) -> None:
    """Add the rows after the indexed seq to ``positions_by_device`` (in the open transaction)."""
    top = conn.execute(_MAX_SEQ).fetchone()[0] or 0
    indexed = _indexed_seq(conn)
    if top > indexed:
        conn.execute(_INDEX_ROWS, (indexed, top))
        conn.execute(_SET_INDEXED_SEQ, (top,))


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction: the reads inside see the database as of one moment."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")  # nothing was written: this only ends the read


class JournalError(M2MError):
    """Storing or reading positions failed; the caller must not acknowledge the data.

    Attributes:
        operation: What was being done (``"open"``, ``"append"``, ``"read"``…).
        path: The journal file.
    """

    def __init__(self, operation: str, path: str, reason: str) -> None:
        """Name the operation, the file and what went wrong."""
        super().__init__(f"tracker journal {path}: {operation} failed: {reason}")
        self.operation = operation
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One stored position.

    Attributes:
        seq: The row's sequence number; grows in the order positions were journaled.
        received_at: When the gateway journaled it (UTC).
        position: The position as decoded (``raw`` is not kept; ``bytes`` values in
            ``io`` come back as hex text).
    """

    seq: int
    received_at: datetime
    position: Position


@dataclass(frozen=True, slots=True)
class StoredFrame:
    """A frame kept as received, because no decoder understands it.

    See :meth:`TrackerJournal.store_frames`.

    Attributes:
        seq: The row's sequence number.
        received_at: When the gateway stored it (UTC).
        protocol: The protocol.
        device_id: The device that sent it.
        kind: The message type, as the decoder named it (``"0x8C"``, ``"V3"``).
        raw: The frame's bytes.
    """

    seq: int
    received_at: datetime
    protocol: str
    device_id: str
    kind: str
    raw: bytes


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _ONE_US


def _from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _check_version(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"schema version {version} is newer than this code's {SCHEMA_VERSION}"
        )


def _plain(value: object) -> object:
    """A JSON-ready ``io`` value: bytes as hex, non-finite floats as None."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is bytes:
        return value.hex()
    return value


def _dumps(data: object) -> bytes:
    """Compact JSON; what orjson cannot encode (an integer beyond 64 bits) the standard way."""
    try:
        return orjson.dumps(data)
    except TypeError:  # orjson.JSONEncodeError: the same value always takes the same path
        return _json_encode(data).encode()


def _loads(text: str | bytes) -> Any:
    """Parse stored JSON; text with an integer orjson would turn into a float the standard way."""
    if _LONG_NUMBER.search(text if isinstance(text, str) else text.decode()) is None:
        return orjson.loads(text)
    return json.loads(text)


def _stored_values_general(position: Position) -> list[object]:
    """The values of :data:`_STORED_FIELDS` for any field values (what orjson refuses)."""
    values: list[object] = []
    for name in _STORED_FIELDS:
        value = getattr(position, name)
        if type(value) is float and not math.isfinite(value):
            value = None
        elif isinstance(value, dict):
            value = {str(k): _plain(v) for k, v in value.items()}
        values.append(value)
    return values


def _encode(position: Position) -> tuple[bytes, bytes]:
    """A position's ``data`` and the digest that identifies it (with its key columns).

    ``data`` is a JSON array of :data:`_STORED_FIELDS` followed by the transmission fields
    (:data:`_TRANSMISSION_FIELDS`); the digest hashes the array without them. The usual
    record goes to orjson as it is (it writes non-finite numbers as ``null``, stored as
    unknown); what it refuses (``bytes`` in ``io``, non-text keys, integers beyond 64 bits)
    takes the general code, which gives the same text for what orjson accepts.
    """
    try:
        text = orjson.dumps(_get_stored(position))
        tail = _TAILS[position.checksum_ok, position.archive]
    except (TypeError, KeyError):  # fmt: skip
        text = _dumps(_stored_values_general(position))
        tail = b"," + _dumps([position.checksum_ok, position.archive])[1:]
    return text[:-1] + tail, _blake2b(text, digest_size=16).digest()


def _row(position: Position, received_us: int) -> tuple[str, str, int, int, int, int, bytes, bytes]:
    try:  # _encode, inline: this runs for every record
        text = orjson.dumps(_get_stored(position))
        data = text[:-1] + _TAILS[position.checksum_ok, position.archive]
    except (TypeError, KeyError):  # fmt: skip
        data, digest = _encode(position)
    else:
        digest = _blake2b(text, digest_size=16).digest()
    return (
        position.protocol,
        position.device_id,
        (position.fix_time - _EPOCH) // _ONE_US,
        round(position.latitude * 1e7),
        round(position.longitude * 1e7),
        received_us,
        data,
        digest,
    )


def _values(positions: list[Position], received_us: int) -> list[Any]:
    """The rows of ``positions``, their values one after the other.

    One list rather than a tuple a row: a group commit's thousands of live tuples would
    wake the garbage collector again and again.
    """
    values: list[Any] = []
    extend = values.extend
    for position in positions:
        extend(_row(position, received_us))
    return values


def _legacy_position(data: object) -> Position:
    """The position of a row stored as a JSON object (schema versions 1-3).

    Raises:
        ValueError, TypeError, KeyError: Not the JSON of a position.
    """
    loaded = _loads(data)  # type: ignore[arg-type]
    if not isinstance(loaded, dict):
        raise TypeError(f"stored position is a {type(loaded).__name__}, not an object")
    values: dict[str, Any] = {k: v for k, v in loaded.items() if k in _POSITION_FIELD_SET}
    values["fix_time"] = datetime.fromisoformat(values["fix_time"])
    return Position(**values)


def _converted(
    protocol: str, device_id: str, fix_time_us: int, data: object
) -> tuple[bytes, bytes] | None:
    """A version 1-3 row's ``data`` and digest in version 4, or None (a damaged row)."""
    try:
        position = _legacy_position(data)
        if (position.protocol, position.device_id) != (protocol, device_id) or _micros(
            position.fix_time
        ) != fix_time_us:
            return None  # its columns say something else than its JSON: kept as it is
        return _encode(position)
    except (TypeError, ValueError, KeyError, OverflowError):  # fmt: skip
        return None


def _record(row: tuple[Any, ...]) -> JournalRecord:
    """A row of :data:`_SELECT_RECORD` as a record.

    ``data`` is an array; an object is a row older than version 4 that the migration kept.

    Raises:
        ValueError, TypeError, KeyError: A damaged row.
    """
    seq, received_us, protocol, device_id, fix_time_us, data = row
    loaded = _loads(data)
    if type(loaded) is not list:
        return JournalRecord(seq, _from_micros(received_us), _legacy_position(data))
    if len(loaded) != len(_DATA_FIELDS):
        raise ValueError(f"stored position has {len(loaded)} fields, not {len(_DATA_FIELDS)}")
    values: dict[str, Any] = dict(zip(_DATA_FIELDS, loaded, strict=True))
    position = Position(
        protocol=protocol, device_id=device_id, fix_time=_from_micros(fix_time_us), **values
    )
    return JournalRecord(seq, _from_micros(received_us), position)


class TrackerJournal:
    """The SQLite position journal (see the module docstring).

    Args:
        path: The database file; created with its schema when missing (its directory
            must exist).
        retention_days: Prune positions received more than this many days ago; ``None``
            keeps everything.
        prune_interval: Seconds between automatic prunes while appending.
        clock: Source of the current UTC time (tests).

    Use ``await journal.open()`` … ``await journal.close()``, or ``async with``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        retention_days: float | None = DEFAULT_RETENTION_DAYS,
        prune_interval: float = DEFAULT_PRUNE_INTERVAL,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Configure the journal; nothing is opened until :meth:`open`."""
        if retention_days is not None and not retention_days > 0:
            raise ValueError("retention_days must be positive or None")
        if not prune_interval > 0:
            raise ValueError("prune_interval must be positive")
        self.path = str(Path(path))
        self.retention_days = retention_days
        self.prune_interval = prune_interval
        self._clock = clock or (lambda: datetime.now(UTC))
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        # the waiting appends: their positions and futures (two lists, no tuple for each)
        self._queue: list[list[Position]] = []
        self._futures: list[asyncio.Future[list[bool]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._next_prune = 0.0
        # rows committed since positions_by_device was last written (the journal thread's)
        self._unindexed = 0
        self._next_index = 0.0
        self._index_failing = False
        self._closing = False
        self.commits = 0
        """Transactions committed by :meth:`append` (one per group commit)."""

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        """Whether :meth:`open` succeeded and :meth:`close` has not been called."""
        return self._executor is not None and not self._closing

    async def open(self) -> None:
        """Open (or create) the database on the worker thread and prune old rows.

        Raises:
            JournalError: The file cannot be opened or is not a usable journal.
        """
        if self._executor is not None:
            raise RuntimeError("journal already opened")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracker-journal")
        try:
            await self._run("open", self._open_sync)
        except BaseException:
            self._executor.shutdown(wait=True)  # idle: the failed open was its only job
            self._executor = None
            raise
        try:
            await self.prune()
        except JournalError as err:  # old rows stay until the next prune; appends still work
            _LOGGER.warning("%s", err)

    async def close(self) -> None:
        """Finish the pending writes, then close the connection and the worker thread."""
        if self._executor is None or self._closing:
            return
        self._closing = True
        if self._writer is not None:
            await asyncio.wait([self._writer])
        executor, self._executor = self._executor, None
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close_sync)
        finally:
            # The thread has nothing left to do: joining it only waits for it to wake up
            # and exit, so no journal thread outlives close().
            executor.shutdown(wait=True)

    async def __aenter__(self) -> Self:
        """Open the journal."""
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the journal."""
        await self.close()

    # -- writing --------------------------------------------------------------------------

    async def append(self, positions: Sequence[Position]) -> list[bool]:
        """Store positions durably, in order; return which of them were new.

        Returns once the transaction holding them is committed. A position equal to a
        stored one (the same record: every field but ``archive`` and ``checksum_ok``, see
        the module docstring) is not stored again and reported ``False``, including a
        repeat within ``positions``.

        Raises:
            JournalError: The journal is closed or SQLite failed; nothing of
                ``positions`` was stored.
        """
        self._check_open("append")
        return await self.submit(positions)

    def submit(self, positions: Sequence[Position]) -> asyncio.Future[list[bool]]:
        """:meth:`append` without a coroutine: the future of its result.

        For a caller that reacts to the commit in a callback (the gateway's connections
        write the ACK from ``add_done_callback``) rather than in a task. The future gets
        what ``append`` would return or raise (:class:`JournalError`); cancelling it does
        not take the positions back, as with ``append``.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[bool]] = loop.create_future()
        if self._executor is None or self._closing:
            future.set_exception(JournalError("append", self.path, "the journal is not open"))
        elif not positions:
            future.set_result([])
        else:
            self._queue.append(list(positions))
            self._futures.append(future)
            if self._writer is None or self._writer.done():
                self._writer = loop.create_task(self._write_loop(), name="tracker-journal-writer")
        return future

    async def _write_loop(self) -> None:
        """Commit everything queued, batch after batch, until the queue is empty."""
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue, []
            futures, self._futures = self._futures, []
            received_us = _micros(self._clock())
            try:
                assert self._executor is not None
                results = await loop.run_in_executor(
                    self._executor, self._write_sync, batch, received_us
                )
            except asyncio.CancelledError:
                for future in futures:
                    if not future.done():
                        future.set_exception(JournalError("append", self.path, "cancelled"))
                raise
            except Exception as err:  # noqa: BLE001 - handed to every waiting caller
                results = [JournalError("append", self.path, repr(err))] * len(batch)
            for future, result in zip(futures, results, strict=True):
                if future.done():  # the caller gave up (connection closed)
                    continue
                if isinstance(result, JournalError):  # a fresh instance per waiting caller
                    future.set_exception(JournalError(result.operation, result.path, result.reason))
                else:
                    future.set_result(result)
            if self._index_due() and not self._closing:  # after the callers have their answer
                try:
                    await loop.run_in_executor(self._executor, self._maybe_index)
                except Exception:  # the writer goes on: the queued appends wait for it
                    _LOGGER.exception("tracker journal %s: indexing by device failed", self.path)
            if (
                self.retention_days is not None
                and not self._closing
                and time.monotonic() >= self._next_prune
            ):
                try:
                    await self.prune()
                except JournalError as err:
                    _LOGGER.warning("%s", err)

    async def prune(self) -> int:
        """Delete positions older than the retention (keeping each device's newest).

        Returns:
            How many rows were deleted.
        """
        self._next_prune = time.monotonic() + self.prune_interval
        if self.retention_days is None:
            return 0
        cutoff = _micros(self._clock() - timedelta(days=self.retention_days))
        total = 0
        while True:
            deleted = await self._run("prune", self._prune_sync, cutoff)
            total += deleted
            if deleted < PRUNE_CHUNK:
                break
        if total:
            _LOGGER.debug("tracker journal %s: pruned %d position(s)", self.path, total)
        return total

    async def store_frames(self, frames: Sequence[tuple[str, str, str, bytes]]) -> list[bool]:
        """Keep frames no decoder understands, before the device is told they arrived.

        A device whose message the gateway cannot decode still expects an answer (or it
        resends the message forever, holding back everything it recorded after it), so the
        gateway answers it; what it answers is stored first, as received, here. Each frame
        is ``(protocol, device_id, kind, raw)``; a frame stored before (the same bytes from
        the same device: a resend) is not stored again. Returns which were new; pruned with
        the positions.

        Raises:
            JournalError: The journal is closed or SQLite failed; nothing was stored.
        """
        self._check_open("append")
        if not frames:
            return []
        received_us = _micros(self._clock())
        rows = [
            (
                protocol,
                device_id,
                received_us,
                kind,
                bytes(raw),
                blake2b(raw, digest_size=16).digest(),
            )
            for protocol, device_id, kind, raw in frames
        ]
        return await self._run("append", self._frames_sync, rows)

    async def frames(self, device_id: str | None = None, *, limit: int = 1000) -> list[StoredFrame]:
        """The frames :meth:`store_frames` kept, oldest first (of one device, or all)."""
        sql = "SELECT seq, received_us, protocol, device_id, kind, raw FROM frames"
        args: list[object] = []
        if device_id is not None:
            sql += " WHERE device_id = ?"
            args.append(device_id)
        sql += " ORDER BY seq LIMIT ?"
        args.append(limit)
        rows = await self._run("read", self._query_sync, sql, args)
        return [
            StoredFrame(seq, _from_micros(received), protocol, device, kind, bytes(raw))
            for seq, received, protocol, device, kind, raw in rows
        ]

    # -- reading --------------------------------------------------------------------------

    async def latest(self, device_id: str, *, protocol: str | None = None) -> JournalRecord | None:
        """The device's position with the newest fix time, or ``None``."""
        rows = await self._run(
            "read", functools.partial(self._find_sync, newest=True), device_id, protocol, None, 1
        )
        return _record(rows[0]) if rows else None

    async def positions(
        self,
        device_id: str,
        *,
        protocol: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[JournalRecord]:
        """The device's positions, oldest fix first.

        Args:
            device_id: The device.
            protocol: Only this protocol's positions.
            since: Only fixes strictly after this moment (aware datetime).
            limit: At most this many (the oldest ones after ``since``).
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        since_us = None if since is None else _micros(since)
        rows = await self._run("read", self._find_sync, device_id, protocol, since_us, limit)
        return [_record(row) for row in rows]

    async def count(self, device_id: str | None = None, *, protocol: str | None = None) -> int:
        """How many positions are stored (for one device and/or protocol)."""
        if device_id is not None:
            return await self._run("read", self._count_sync, device_id, protocol)
        sql = "SELECT COUNT(*) FROM positions WHERE 1"
        args: list[object] = []
        if protocol is not None:
            sql += " AND protocol = ?"
            args.append(protocol)
        rows = await self._run("read", self._query_sync, sql, args)
        return int(rows[0][0])

    async def devices(self) -> list[tuple[str, str]]:
        """Every ``(protocol, device_id)`` with stored positions."""
        rows = await self._run("read", self._devices_sync)
        return [(str(p), str(d)) for p, d in rows]

    # -- worker-thread side ---------------------------------------------------------------

    def _check_open(self, operation: str) -> None:
        if self._executor is None or self._closing:
            raise JournalError(operation, self.path, "the journal is not open")

    async def _run(self, operation: str, func: Callable[..., _T], *args: object) -> _T:
        """Run ``func`` on the worker thread; SQLite errors become :class:`JournalError`."""
        if self._executor is None:
            raise JournalError(operation, self.path, "the journal is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)
        except sqlite3.Error as err:
            raise JournalError(operation, self.path, f"{type(err).__name__}: {err}") from err

    def _open_sync(self) -> None:
        conn = sqlite3.connect(self.path, autocommit=True, timeout=5.0)
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                _LOGGER.warning(
                    "tracker journal %s: WAL mode unavailable, journal_mode is %s",
                    self.path,
                    mode,
                )
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            with _writing(conn):
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                _check_version(version)
                if version == 1:
                    conn.execute(_MIGRATE_1_ADD)
                if version in {1, 2, 3}:
                    self._migrate_rows(conn, version)
                if 0 < version < SCHEMA_VERSION:
                    conn.execute(_MIGRATE_4_INDEX)
                conn.executescript(f"{_SCHEMA}PRAGMA user_version={SCHEMA_VERSION};")
                _index_rows(conn)  # an older file's rows; those a crash left unindexed
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._next_index = time.monotonic() + INDEX_INTERVAL  # everything is indexed now

    def _migrate_rows(self, conn: sqlite3.Connection, version: int) -> None:
        """Convert every row of an older version to today's ``data`` and digest (in place).

        Rows of versions 1-3 hold a JSON object of the position's fields; each becomes the
        array of version 4 with its digest, so a resend of a record stored before the
        upgrade is still recognised. A row that is not a position's JSON (damaged) keeps
        its text (and gets a digest of it, if it had none); so does a row whose new identity
        is another row's (two stored copies of one record): nothing is deleted, and reading
        understands both forms. The version 1 identity index goes.
        """
        last = 0
        done = kept = 0
        while rows := conn.execute(_MIGRATE_ROWS, (last,)).fetchall():
            updates = []
            digests = []
            for seq, protocol, device_id, fix_time_us, data, old in rows:
                converted = _converted(protocol, device_id, fix_time_us, data)
                if converted is not None:
                    updates.append((*converted, seq))
                    continue
                kept += 1
                if not old:
                    digests.append((blake2b(repr(data).encode(), digest_size=16).digest(), seq))
            conn.executemany(_MIGRATE_SET, updates)
            conn.executemany(_MIGRATE_SET_DIGEST, digests)
            done += len(updates)
            last = rows[-1][0]
        conn.execute(_MIGRATE_1_INDEX)
        _LOGGER.info(
            "tracker journal %s: converted from schema version %d to %d"
            " (%d row(s) converted, %d kept as they were)",
            self.path,
            version,
            SCHEMA_VERSION,
            done,
            kept,
        )

    def _close_sync(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _insert(self, conn: sqlite3.Connection, batches: list[list[Any]]) -> list[list[bool]]:
        """Insert every row (in order, inside the open transaction); which were new.

        Each batch is its rows' values one after the other (:data:`_COLUMNS` a row).
        """
        values = batches[0] if len(batches) == 1 else list(chain.from_iterable(batches))
        total = len(values) // _COLUMNS
        before_seq = conn.execute(_MAX_SEQ).fetchone()[0] or 0
        before = conn.total_changes
        step = INSERT_CHUNK * _COLUMNS
        for start in range(0, len(values), step):
            chunk = values[start : start + step]
            conn.execute(_insert_sql(len(chunk) // _COLUMNS), chunk)
        if conn.total_changes - before == total:  # no resends: every row is new
            return [[True] * (len(batch) // _COLUMNS) for batch in batches]
        # Some rows were already stored (or repeat an earlier row of this transaction):
        # a row is new when its identity has a seq from this insert and it is the first
        # row with that identity.
        cursor = conn.cursor()
        seen: set[tuple[Any, ...]] = set()
        out: list[list[bool]] = []
        for batch in batches:
            flags: list[bool] = []
            for at in range(0, len(batch), _COLUMNS):
                key = (batch[at + 1], batch[at], batch[at + 2], batch[at + 7])
                found = cursor.execute(_SEQ_OF, key).fetchone()
                flags.append(found is not None and found[0] > before_seq and key not in seen)
                seen.add(key)
            out.append(flags)
        return out

    def _transaction(self, batches: list[list[Any]]) -> list[list[bool]]:
        assert self._conn is not None
        conn = self._conn
        before = conn.total_changes
        with _writing(conn):
            results = self._insert(conn, batches)
        self.commits += 1
        self._unindexed += conn.total_changes - before
        return results

    def _write_sync(
        self, batches: list[list[Position]], received_us: int
    ) -> list[list[bool] | JournalError]:
        """Write every batch in one transaction; on failure retry them one by one."""
        if self._conn is None:
            return [JournalError("append", self.path, "the journal is closed")] * len(batches)
        rows: list[list[Any] | JournalError] = []
        for positions in batches:
            try:
                rows.append(_values(positions, received_us))
            except (TypeError, ValueError, OverflowError) as err:
                rows.append(JournalError("append", self.path, f"unstorable position: {err}"))
        good = [r for r in rows if not isinstance(r, JournalError)]
        try:
            done = iter(self._transaction(good))
            return [r if isinstance(r, JournalError) else next(done) for r in rows]
        except sqlite3.Error as err:
            if len(good) <= 1:
                error = JournalError("append", self.path, f"{type(err).__name__}: {err}")
                return [r if isinstance(r, JournalError) else error for r in rows]
        out: list[list[bool] | JournalError] = []
        for r in rows:  # isolate the failing batch from the others
            if isinstance(r, JournalError):
                out.append(r)
                continue
            try:
                out.append(self._transaction([r])[0])
            except sqlite3.Error as err:
                out.append(JournalError("append", self.path, f"{type(err).__name__}: {err}"))
        return out

    def _prune_sync(self, cutoff_us: int) -> int:
        """Delete up to :data:`PRUNE_CHUNK` old positions (and as many old frames)."""
        assert self._conn is not None
        conn = self._conn
        try:
            self._index_sync()
        except sqlite3.Error as err:  # the prune keeps the newer rows' newest all the same
            self._index_failed(err)
        with _writing(conn):
            rows = conn.execute(
                _PRUNE_ROWS, (cutoff_us, PRUNE_CHUNK, _indexed_seq(conn))
            ).fetchall()
            conn.executemany(_DELETE_ROW, [(row[0],) for row in rows])
            conn.executemany(_DELETE_BY_DEVICE, [(*row[1:], row[0]) for row in rows])
        return len(rows) + conn.execute(_PRUNE_FRAMES, (cutoff_us, PRUNE_CHUNK)).rowcount

    def _index_sync(self) -> None:
        """Add the rows committed since the last call to ``positions_by_device``.

        The identity index (``positions_key``) leads with the fix time, so a group commit's
        new keys, whose fixes are near now, land together at its end. An index led by the
        device, which the per-device reads need, would take a page of each device that
        reports instead (each written again to the WAL at every commit: measured, it was
        half of SQLite's work per record); ``positions_by_device`` is that index, written
        :data:`INDEX_BATCH` rows at a time (or every :data:`INDEX_INTERVAL` seconds) in a
        transaction of its own, so each device's page takes many rows at once. The rows
        after the indexed seq are read by a scan of the table's end. Losing this work (a
        crash before its commit) loses nothing: the rows stay in ``positions`` and are
        indexed at the next call.
        """
        assert self._conn is not None
        with _writing(self._conn):
            _index_rows(self._conn)
        self._unindexed = 0
        self._next_index = time.monotonic() + INDEX_INTERVAL

    def _index_due(self) -> bool:
        """Whether enough rows have come (or enough time has passed) to index them."""
        return bool(self._unindexed) and (
            (self._unindexed >= INDEX_BATCH and not self._index_failing)
            or time.monotonic() >= self._next_index
        )

    def _maybe_index(self) -> None:
        """Index the new rows (:meth:`_index_sync`); a failure is logged and retried later."""
        try:
            self._index_sync()
        except sqlite3.Error as err:  # the appends are stored: they are read all the same
            self._index_failed(err)
        else:
            self._index_failing = False

    def _index_failed(self, err: sqlite3.Error) -> None:
        """Log a failed indexing; the next try waits :data:`INDEX_INTERVAL` (a full disk)."""
        self._index_failing = True
        self._next_index = time.monotonic() + INDEX_INTERVAL
        _LOGGER.warning(
            "tracker journal %s: indexing by device failed: %s: %s",
            self.path,
            type(err).__name__,
            err,
        )

    def _find_sync(
        self,
        device_id: str,
        protocol: str | None,
        since_us: int | None,
        limit: int,
        *,
        newest: bool = False,
    ) -> list[tuple[Any, ...]]:
        """The device's rows in fix time order (newest first if ``newest``), at most ``limit``."""
        if self._conn is None:
            raise sqlite3.ProgrammingError("the journal is closed")
        conn = self._conn
        where = ""
        args: list[object] = [device_id]
        if protocol is not None:
            where += " AND protocol = ?"
            args.append(protocol)
        if since_us is not None:
            where += " AND fix_time_us > ?"
            args.append(since_us)
        order = " ORDER BY fix_time_us DESC, seq DESC" if newest else " ORDER BY fix_time_us, seq"
        found: dict[int, tuple[Any, ...]] = {}
        with _snapshot(conn):  # the indexed seq and both sets of rows as of one moment
            keys = conn.execute(
                _INDEXED_ROWS + where + order + " LIMIT ?", [*args, limit]
            ).fetchall()
            keys += conn.execute(_NEWER_ROWS + where, [_indexed_seq(conn), *args]).fetchall()
            keys.sort(reverse=newest)
            seqs = [seq for _, seq in keys[:limit]]
            for start in range(0, len(seqs), 500):
                chunk = seqs[start : start + 500]
                sql = _SELECT_RECORD + " WHERE seq IN (" + ",".join("?" * len(chunk)) + ")"
                for row in conn.execute(sql, chunk):
                    found[row[0]] = row
        return [found[seq] for seq in seqs if seq in found]

    def _count_sync(self, device_id: str, protocol: str | None) -> int:
        if self._conn is None:
            raise sqlite3.ProgrammingError("the journal is closed")
        where, args = (
            ("", [device_id]) if protocol is None else (" AND protocol = ?", [device_id, protocol])
        )
        conn = self._conn
        with _snapshot(conn):
            indexed = conn.execute(_COUNT_INDEXED + where, args).fetchone()[0]
            newer = conn.execute(_COUNT_NEWER + where, [_indexed_seq(conn), *args]).fetchone()[0]
        return int(indexed) + int(newer)

    def _frames_sync(self, rows: list[tuple[Any, ...]]) -> list[bool]:
        if self._conn is None:
            raise sqlite3.ProgrammingError("the journal is closed")
        conn = self._conn
        new = []
        with _writing(conn):
            for row in rows:
                before = conn.total_changes
                conn.execute(_INSERT_FRAME, row)
                new.append(conn.total_changes > before)
        return new

    def _devices_sync(self) -> list[tuple[Any, ...]]:
        if self._conn is None:
            raise sqlite3.ProgrammingError("the journal is closed")
        conn = self._conn
        with _snapshot(conn):
            return conn.execute(_DEVICES, (_indexed_seq(conn),)).fetchall()

    def _query_sync(self, sql: str, args: list[object]) -> list[tuple[Any, ...]]:
        if self._conn is None:
            raise sqlite3.ProgrammingError("the journal is closed")
        return self._conn.execute(sql, args).fetchall()
