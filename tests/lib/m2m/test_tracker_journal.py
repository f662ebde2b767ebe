"""The SQLite position journal: durability, dedupe, order, reads, retention, typed errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
import json
from pathlib import Path
import sqlite3
import threading

import orjson
import pytest

from custom_components.thingbridge.m2m import journal as journal_module
from custom_components.thingbridge.m2m.journal import (
    SCHEMA_VERSION,
    JournalError,
    JournalRecord,
    TrackerJournal,
)
from custom_components.thingbridge.m2m.trackers import Position

T0 = datetime(2026, 11, 1, 8, 0, 0, 250_000, tzinfo=UTC)


def pos(
    i: int,
    device: str = "356307042441013",
    protocol: str = "teltonika",
    *,
    lat: float | None = None,
    **extra: object,
) -> Position:
    return Position(
        protocol=protocol,
        device_id=device,
        raw=b"\x00raw",
        fix_time=T0 + timedelta(seconds=10 * i),
        latitude=54.6 + i / 10_000 if lat is None else lat,
        longitude=25.2 - i / 10_000,
        valid=True,
        speed_kmh=float(i),
        **extra,  # type: ignore[arg-type]
    )


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[TrackerJournal]:
    async with TrackerJournal(tmp_path / "journal.db") as j:
        yield j


def sql(path: Path, statement: str) -> bool:
    with sqlite3.connect(path) as conn:
        conn.execute(statement)
    conn.close()
    return True


async def test_append_reports_new_and_duplicates_in_order(journal: TrackerJournal) -> None:
    assert await journal.append([pos(1), pos(2), pos(1)]) == [True, True, False]
    assert await journal.append([pos(2), pos(3)]) == [False, True]
    # the same fix from another protocol or another device is not a duplicate
    assert await journal.append([pos(3, protocol="gt06"), pos(3, device="other")]) == [True, True]
    assert await journal.append([]) == []
    records = await journal.positions("356307042441013", protocol="teltonika")
    assert [r.position.fix_time for r in records] == [pos(i).fix_time for i in (1, 2, 3)]
    seqs = [r.seq for r in records]
    assert seqs == sorted(seqs)
    assert await journal.count() == 5


async def test_a_buffered_burst_keeps_arrival_order_and_device_times(
    journal: TrackerJournal,
) -> None:
    burst = [pos(i) for i in range(50)]
    assert await journal.append(burst) == [True] * 50
    records = await journal.positions("356307042441013", limit=100)
    assert [r.position.fix_time for r in records] == [p.fix_time for p in burst]
    assert [r.seq for r in records] == sorted(r.seq for r in records)
    assert records[0].position.fix_time.microsecond == 250_000  # the device's own time, exact


async def test_position_round_trip(journal: TrackerJournal) -> None:
    original = pos(
        7,
        ignition=True,
        satellites=9,
        alarm="sos",
        event=239,
        hdop=float("nan"),
        io={"239": 1, "name": "x", "ratio": 0.5, "blob": b"\x01\xff", "bad": float("inf")},
    )
    await journal.append([original])
    record = await journal.latest(original.device_id)
    assert isinstance(record, JournalRecord)
    back = record.position
    assert back.fix_time == original.fix_time
    assert back.fix_time.tzinfo is not None
    assert (back.latitude, back.longitude) == (original.latitude, original.longitude)
    assert (back.ignition, back.satellites, back.alarm, back.event) == (True, 9, "sos", 239)
    assert back.io == {"239": 1, "name": "x", "ratio": 0.5, "blob": "01ff", "bad": None}
    assert back.hdop is None  # a non-finite value is stored as unknown, not refused
    assert back.speed_kmh == 7.0
    assert back.altitude_m is None
    assert back.raw == b""
    assert record.received_at.tzinfo is not None


async def test_latest_is_the_newest_fix_not_the_last_arrival(journal: TrackerJournal) -> None:
    await journal.append([pos(5)])
    await journal.append([pos(2)])  # an old buffered record arrives late
    latest = await journal.latest("356307042441013")
    assert latest is not None
    assert latest.position.fix_time == pos(5).fix_time
    assert await journal.latest("nobody") is None
    assert await journal.latest("356307042441013", protocol="gt06") is None


async def test_positions_filters(journal: TrackerJournal) -> None:
    await journal.append([pos(i) for i in range(10)] + [pos(0, protocol="gt06")])
    since = await journal.positions("356307042441013", since=pos(6).fix_time)
    assert [r.position.fix_time for r in since] == [pos(i).fix_time for i in (7, 8, 9)]
    first = await journal.positions("356307042441013", protocol="teltonika", limit=3)
    assert [r.position.speed_kmh for r in first] == [0.0, 1.0, 2.0]
    assert len(await journal.positions("356307042441013")) == 11
    with pytest.raises(ValueError, match="limit"):
        await journal.positions("356307042441013", limit=0)
    assert await journal.count("356307042441013", protocol="gt06") == 1
    assert await journal.count(protocol="teltonika") == 10
    assert await journal.devices() == [
        ("gt06", "356307042441013"),
        ("teltonika", "356307042441013"),
    ]


async def test_concurrent_appends_are_group_committed(journal: TrackerJournal) -> None:
    results = await asyncio.gather(*(journal.append([pos(i), pos(i)]) for i in range(200)))
    assert results == [[True, False]] * 200
    assert await journal.count() == 200
    assert 1 <= journal.commits < 200


async def test_durable_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    async with TrackerJournal(path) as first:
        await first.append([pos(i) for i in range(5)])
    async with TrackerJournal(path) as second:
        assert await second.count() == 5
        assert await second.append([pos(4), pos(5)]) == [False, True]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    conn.close()


async def test_sqlite_runs_on_one_worker_thread_not_the_loop(tmp_path: Path) -> None:
    threads: set[str] = set()
    journal = TrackerJournal(tmp_path / "j.db")
    original = journal._write_sync

    def spy(batches: list[list[Position]], received_us: int) -> list[list[bool] | JournalError]:
        threads.add(threading.current_thread().name)
        return original(batches, received_us)

    journal._write_sync = spy  # type: ignore[method-assign]
    async with journal:
        for i in range(5):
            await journal.append([pos(i)])
    assert len(threads) == 1
    assert threading.current_thread().name not in threads
    assert next(iter(threads)).startswith("tracker-journal")


async def test_retention_prunes_old_rows_but_keeps_each_devices_newest(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 1, tzinfo=UTC))
    async with TrackerJournal(tmp_path / "j.db", retention_days=7, clock=clock) as journal:
        await journal.append([pos(i) for i in range(5)] + [pos(0, device="quiet")])
        clock.now += timedelta(days=3)
        await journal.append([pos(i) for i in range(5, 8)])
        clock.now += timedelta(days=5)  # the first batch is now 8 days old
        assert await journal.prune() == 5  # 5 old rows of the first device; "quiet" keeps 1
        assert await journal.count("356307042441013") == 3
        assert await journal.count("quiet") == 1
        clock.now += timedelta(days=30)
        assert await journal.prune() == 2  # the newest fix of each device stays
        assert await journal.count() == 2
        latest = await journal.latest("356307042441013")
        assert latest is not None
        assert latest.position.fix_time == pos(7).fix_time


async def test_retention_runs_while_appending(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 1, tzinfo=UTC))
    async with TrackerJournal(
        tmp_path / "j.db", retention_days=1, prune_interval=1e-9, clock=clock
    ) as journal:
        await journal.append([pos(i) for i in range(4)])
        clock.now += timedelta(days=2)
        await journal.append([pos(10)])
        await journal.append([pos(11)])  # the prune after the previous batch has run
        assert await journal.count() == 2


async def test_no_retention_keeps_everything(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 1, tzinfo=UTC))
    async with TrackerJournal(tmp_path / "j.db", retention_days=None, clock=clock) as journal:
        await journal.append([pos(i) for i in range(3)])
        clock.now += timedelta(days=3650)
        assert await journal.prune() == 0
        assert await journal.count() == 3


async def test_sqlite_failure_is_a_journal_error_and_stores_nothing(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    async with TrackerJournal(path) as journal:
        await journal.append([pos(0)])
        sql(
            path,
            "CREATE TRIGGER fail BEFORE INSERT ON positions "
            "WHEN NEW.device_id = 'bad' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
        )
        with pytest.raises(JournalError, match="disk on fire") as info:
            await journal.append([pos(1), pos(2, device="bad")])
        assert info.value.operation == "append"
        assert info.value.path == str(path)
        assert await journal.count() == 1  # the whole call was rolled back
        sql(path, "DROP TRIGGER fail")
        assert await journal.append([pos(1)]) == [True]


async def test_a_failing_append_does_not_fail_the_others_in_its_group(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    async with TrackerJournal(path) as journal:
        sql(
            path,
            "CREATE TRIGGER fail BEFORE INSERT ON positions WHEN NEW.device_id = 'bad' "
            "BEGIN SELECT RAISE(ABORT, 'rejected row'); END",
        )
        results = await asyncio.gather(
            journal.append([pos(1)]),
            journal.append([pos(2, device="bad")]),
            journal.append([pos(3)]),
            journal.append([pos(4, lat=float("nan"))]),
            return_exceptions=True,
        )
        assert results[0] == [True]
        assert isinstance(results[1], JournalError)
        assert "rejected row" in str(results[1])
        assert results[2] == [True]
        assert isinstance(results[3], JournalError)
        assert "unstorable" in str(results[3])
        assert await journal.count() == 2


async def test_unstorable_position_alone(journal: TrackerJournal) -> None:
    with pytest.raises(JournalError, match="unstorable"):
        await journal.append([pos(1, lat=float("inf"))])
    assert await journal.count() == 0


@pytest.mark.parametrize(
    ("prepare", "match"),
    [
        (lambda p: None, "unable to open"),
        (lambda p: (p.parent.mkdir(), p.write_bytes(b"not a database " * 100)), "not a database"),
        (
            lambda p: (p.parent.mkdir(), sql(p, "PRAGMA user_version=99")),
            "schema version 99 is newer",
        ),
    ],
    ids=["missing-directory", "not-a-database", "newer-schema"],
)
async def test_open_failures(tmp_path: Path, prepare: Callable[[Path], object], match: str) -> None:
    path = tmp_path / "sub" / "j.db"
    prepare(path)
    journal = TrackerJournal(path)
    with pytest.raises(JournalError, match=match) as info:
        await journal.open()
    assert info.value.operation == "open"
    assert not journal.is_open
    with pytest.raises(JournalError, match="not open"):
        await journal.append([pos(1)])


async def test_closed_journal_refuses_work(tmp_path: Path) -> None:
    journal = TrackerJournal(tmp_path / "j.db")
    with pytest.raises(JournalError, match="not open"):
        await journal.append([pos(1)])
    with pytest.raises(JournalError, match="not open"):
        await journal.count()
    await journal.open()
    with pytest.raises(RuntimeError, match="already opened"):
        await journal.open()
    pending = asyncio.ensure_future(journal.append([pos(1)]))
    await asyncio.sleep(0)  # queued before close: close waits for it
    await journal.close()
    assert await pending == [True]
    await journal.close()  # idempotent
    assert not journal.is_open
    with pytest.raises(JournalError, match="not open"):
        await journal.append([pos(2)])
    with pytest.raises(JournalError, match="not open"):
        await journal.latest("x")


async def test_a_caller_that_gives_up_still_gets_its_data_stored(journal: TrackerJournal) -> None:
    """A connection closed mid-append: no ACK went out, the row is there for the resend."""
    gone = asyncio.ensure_future(journal.append([pos(1)]))
    await asyncio.sleep(0)  # the writer has taken it
    gone.cancel()
    assert await journal.append([pos(1), pos(2)]) == [False, True]
    assert gone.cancelled()
    assert await journal.count() == 2


async def test_in_memory_journal_warns_about_wal(caplog: pytest.LogCaptureFixture) -> None:
    async with TrackerJournal(":memory:") as journal:
        assert await journal.append([pos(1)]) == [True]
    assert "WAL mode unavailable, journal_mode is memory" in caplog.text


def test_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="retention_days"):
        TrackerJournal(tmp_path / "j.db", retention_days=0)
    with pytest.raises(ValueError, match="prune_interval"):
        TrackerJournal(tmp_path / "j.db", prune_interval=0)


# -- identity: the whole record, not its second and place ----------------------------------------


async def test_different_records_of_one_second_and_place_are_both_stored(
    journal: TrackerJournal,
) -> None:
    """Ignition on at 1,000 m and ignition off at 1,500 m, same second and place: two records."""
    on = pos(1, ignition=True, odometer_m=1000.0, io={"239": 1})
    off = replace(on, ignition=False, odometer_m=1500.0, io={"239": 0})
    assert await journal.append([on, off]) == [True, True]
    assert await journal.append([off, on]) == [False, False]  # resends
    # how it travelled is not what it says: a re-upload flag or a checksum verdict
    assert await journal.append([replace(on, archive=True, checksum_ok=False)]) == [False]
    assert await journal.append([replace(on, speed_kmh=1.5)]) == [True]
    records = await journal.positions("356307042441013")
    assert [(r.position.ignition, r.position.odometer_m) for r in records] == [
        (True, 1000.0),
        (False, 1500.0),
        (True, 1000.0),
    ]
    assert records[0].position == replace(on, raw=b"")


_V1_SCHEMA = """
CREATE TABLE positions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    protocol TEXT NOT NULL,
    device_id TEXT NOT NULL,
    fix_time_us INTEGER NOT NULL,
    lat_e7 INTEGER NOT NULL,
    lon_e7 INTEGER NOT NULL,
    received_us INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX positions_identity
    ON positions (device_id, fix_time_us, lat_e7, lon_e7, protocol);
CREATE INDEX positions_received ON positions (received_us);
PRAGMA user_version=1;
"""


def _v1_row(p: Position, received: datetime) -> tuple[object, ...]:
    """A row as schema version 1 wrote it (fields in declaration order, ``None`` left out)."""
    data = {
        f.name: getattr(p, f.name)
        for f in fields(Position)
        if f.name != "raw" and getattr(p, f.name) is not None
    }
    data["fix_time"] = p.fix_time.isoformat()

    def micros(t: datetime) -> int:
        return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)

    return (
        p.protocol, p.device_id, micros(p.fix_time), round(p.latitude * 1e7),
        round(p.longitude * 1e7), micros(received), json.dumps(data, separators=(",", ":")),
    )  # fmt: skip


async def test_version_1_file_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    old = [
        pos(1, checksum_ok=True, archive=False),
        pos(2, io={"239": 1, "raw": "00ff"}, odometer_m=1000.0),
        pos(2, device="other", protocol="gt06", archive=True),
    ]
    received = datetime(2026, 11, 1, 9, tzinfo=UTC)
    with sqlite3.connect(path) as conn:
        conn.executescript(_V1_SCHEMA)
        conn.executemany(
            "INSERT INTO positions (protocol, device_id, fix_time_us, lat_e7, lon_e7,"
            " received_us, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [_v1_row(p, received) for p in old],
        )
    conn.close()
    async with TrackerJournal(path, retention_days=None) as journal:
        assert await journal.count() == 3
        records = await journal.positions("356307042441013")
        assert [r.position for r in records] == [replace(p, raw=b"") for p in old[:2]]
        assert {r.received_at for r in records} == {received}
        assert [r.seq for r in records] == [1, 2]
        # dedupe still works on the migrated rows, now by the whole record
        assert await journal.append(old) == [False, False, False]
        other = replace(old[1], odometer_m=1500.0, io={"239": 0})
        assert await journal.append([other]) == [True]
        assert await journal.count() == 4
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "positions_identity" not in indexes
        assert conn.execute("SELECT COUNT(*) FROM positions WHERE digest = x''").fetchone()[0] == 0
    conn.close()
    async with TrackerJournal(path, retention_days=None) as journal:  # reopening is a no-op
        assert await journal.count() == 4
        assert await journal.append([other]) == [False]


async def test_a_failed_migration_leaves_the_version_1_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    received = datetime(2026, 11, 1, 9, tzinfo=UTC)
    with sqlite3.connect(path) as conn:
        conn.executescript(_V1_SCHEMA)
        insert = (
            "INSERT INTO positions (protocol, device_id, fix_time_us, lat_e7, lon_e7,"
            " received_us, data) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        conn.execute(insert, _v1_row(pos(1), received))
        conn.execute(insert, (*_v1_row(pos(2), received)[:6], "{damaged"))
        conn.execute(insert, (*_v1_row(pos(3), received)[:6], "[]"))
        conn.execute(
            "CREATE TRIGGER fail BEFORE UPDATE ON positions BEGIN SELECT RAISE(ABORT, 'disk'); END"
        )
    conn.close()
    journal = TrackerJournal(path)
    with pytest.raises(JournalError, match="open failed"):
        await journal.open()
    assert not journal.is_open
    with sqlite3.connect(path) as conn:  # one transaction: nothing of it happened
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        columns = [r[1] for r in conn.execute("PRAGMA table_info(positions)")]
        assert "digest" not in columns
        assert conn.execute("SELECT COUNT(*) FROM positions").fetchone()[0] == 3
        conn.execute("DROP TRIGGER fail")
    conn.close()
    async with TrackerJournal(path, retention_days=None) as journal:  # damaged rows are kept
        assert await journal.count() == 3
        assert await journal.append([pos(1), pos(2)]) == [False, True]


async def test_undecodable_frames_are_kept_once_and_pruned_with_the_positions(
    tmp_path: Path,
) -> None:
    clock = Clock(datetime(2026, 11, 1, tzinfo=UTC))
    async with TrackerJournal(tmp_path / "j.db", retention_days=7, clock=clock) as journal:
        first = ("gt06", "864717003283581", "0x8C", b"\x78\x78\x05\x8c\x00\x02")
        other = ("gt06", "864717003283581", "0x8C", b"\x78\x78\x05\x8c\x00\x03")
        assert await journal.store_frames([first, other, first]) == [True, True, False]
        assert await journal.store_frames([first]) == [False]  # a resend
        kept = await journal.frames("864717003283581")
        assert [(k.kind, k.raw) for k in kept] == [(first[2], first[3]), (other[2], other[3])]
        assert kept[0].received_at == clock.now
        assert await journal.frames("someone else") == []
        clock.now += timedelta(days=8)
        assert await journal.prune() == 2
        assert await journal.frames() == []
    async with TrackerJournal(tmp_path / "j.db") as journal:  # the table survives a reopen
        assert await journal.store_frames([first]) == [True]


# -- schema version 2 (the journal before orjson): written as that code wrote it -------------

_V2_SCHEMA = """
CREATE TABLE positions (
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
CREATE UNIQUE INDEX positions_record ON positions (device_id, protocol, fix_time_us, digest);
CREATE INDEX positions_received ON positions (received_us);
CREATE TABLE frames (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    protocol TEXT NOT NULL,
    device_id TEXT NOT NULL,
    received_us INTEGER NOT NULL,
    kind TEXT NOT NULL,
    raw BLOB NOT NULL,
    digest BLOB NOT NULL
);
CREATE UNIQUE INDEX frames_record ON frames (device_id, protocol, digest);
CREATE INDEX frames_received ON frames (received_us);
PRAGMA user_version=2;
"""


def _v2_row(p: Position, received: datetime) -> tuple[object, ...]:
    """A row as schema version 2 wrote it: the standard library's JSON, digest without the
    transmission fields (``checksum_ok``, ``archive``), which follow at the end."""
    data: dict[str, object] = {
        f.name: getattr(p, f.name)
        for f in fields(Position)
        if f.name != "raw" and getattr(p, f.name) is not None
    }
    data["fix_time"] = p.fix_time.isoformat()
    tail = "".join(
        f',"{name}":{json.dumps(data.pop(name))}'
        for name in ("checksum_ok", "archive")
        if name in data
    )
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    digest = blake2b(text.encode(), digest_size=16).digest()

    def micros(t: datetime) -> int:
        return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)

    return (
        p.protocol, p.device_id, micros(p.fix_time), round(p.latitude * 1e7),
        round(p.longitude * 1e7), micros(received),
        f"{text[:-1]}{tail}}}" if tail else text, digest,
    )  # fmt: skip


async def test_version_2_file_is_migrated_and_still_recognises_resends(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    old = [
        pos(1, checksum_ok=True, archive=False),
        # text the standard library escaped and floats it wrote differently from orjson
        pos(2, alarm="Überdrehzahl", io={"239": 1, "raw": "00ff", "tiny": 1e-05}),
        pos(3, odometer_m=1e16, event="Zündung"),
        pos(3, device="other", protocol="gt06", archive=True),
    ]
    received = datetime(2026, 11, 1, 9, tzinfo=UTC)
    frame = ("gt06", "other", "0x8C", b"\x78\x78\x05\x8c\x00\x02")
    with sqlite3.connect(path) as conn:
        conn.executescript(_V2_SCHEMA)
        conn.executemany(
            "INSERT INTO positions (protocol, device_id, fix_time_us, lat_e7, lon_e7,"
            " received_us, data, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [_v2_row(p, received) for p in old],
        )
        conn.execute(
            "INSERT INTO frames (protocol, device_id, received_us, kind, raw, digest)"
            " VALUES (?, ?, 0, ?, ?, ?)",
            (*frame, blake2b(frame[3], digest_size=16).digest()),
        )
        # a damaged row (as a disk error leaves one) is kept through the migration too
        conn.execute(
            "INSERT INTO positions (protocol, device_id, fix_time_us, lat_e7, lon_e7,"
            " received_us, data) VALUES ('teltonika', 'damaged', 1, 0, 0, 0, '{not json')"
        )
    conn.close()
    async with TrackerJournal(path, retention_days=None) as journal:
        assert await journal.count() == 5
        records = await journal.positions("356307042441013")
        assert [r.position for r in records] == [replace(p, raw=b"") for p in old[:3]]
        assert {r.received_at for r in records} == {received}
        assert [r.seq for r in records] == [1, 2, 3]
        latest = await journal.latest("other", protocol="gt06")
        assert latest is not None
        assert latest.position == replace(old[3], raw=b"")
        # resends of records stored before the upgrade are recognised, whatever their text
        assert await journal.append(old) == [False, False, False, False]
        changed = replace(old[1], alarm="Überdrehzahl!")
        assert await journal.append([changed, changed]) == [True, False]
        assert await journal.count() == 6
        # the undecodable frames stayed, and so did their identities
        assert [(f.kind, f.raw) for f in await journal.frames("other")] == [frame[2:]]
        assert await journal.store_frames([frame]) == [False]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
        assert conn.execute("SELECT COUNT(*) FROM positions").fetchone()[0] == 6
    conn.close()
    async with TrackerJournal(path, retention_days=None) as journal:  # reopening is a no-op
        assert await journal.append([*old, changed]) == [False] * 5
        assert await journal.count() == 6


@pytest.mark.parametrize(
    "position",
    [
        pos(1, checksum_ok=True, archive=False, ignition=True, satellites=9),
        pos(2, io={"239": 1, "66": 12800, "name": "Überdrehzahl"}, alarm="Zündung"),
        pos(3, io={"blob": b"\x00\xff", "nan": float("nan")}, altitude_m=float("inf")),
        pos(4, io={"big": 2**70}, odometer_m=1e16, hdop=1e-05),
        pos(5, event="ALM", archive=True),
    ],
)
def test_the_fast_encoding_is_the_general_one_and_survives_a_round_trip(
    position: Position,
) -> None:
    # the orjson fast path and the field-by-field code give the same array and digest, and a
    # stored row, read back and stored again, gives the same data and digest (resends of
    # anything stored are recognised; the migration relies on it)
    data, digest = journal_module._encode(position)
    general = journal_module._dumps(journal_module._stored_values_general(position))
    assert data.startswith(general[:-1] + b",")
    assert digest == blake2b(general, digest_size=16).digest()
    row = journal_module._row(position, 0)
    assert row[6:] == (data, digest)
    record = journal_module._record((1, 0, row[0], row[1], row[2], row[6]))
    assert journal_module._encode(record.position) == (data, digest)
    assert record.position.fix_time == position.fix_time
    assert b"NaN" not in data
    assert b"Infinity" not in data


# -- schema version 3 (orjson objects, the identity index led by the device) --------------------

_V3_SCHEMA = _V2_SCHEMA.replace("PRAGMA user_version=2;", "PRAGMA user_version=3;")


def _v3_row(p: Position, received: datetime) -> tuple[object, ...]:
    """A row as schema version 3 wrote it: orjson's object of the fields that are not None
    (``bytes`` in ``io`` as hex, integers beyond 64 bits by the standard library), the
    digest without the transmission fields, which follow at the end."""
    data: dict[str, object] = {
        f.name: getattr(p, f.name)
        for f in fields(Position)
        if f.name != "raw" and getattr(p, f.name) is not None
    }
    data["io"] = {k: v.hex() if isinstance(v, bytes) else v for k, v in p.io.items()}

    def dumps(value: object) -> bytes:
        try:
            return orjson.dumps(value)
        except TypeError:
            value = {**value, "fix_time": p.fix_time.isoformat()}  # type: ignore[dict-item]
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    tail = b"".join(
        b',"' + name.encode() + b'":' + orjson.dumps(data.pop(name))
        for name in ("checksum_ok", "archive")
        if name in data
    )
    text = dumps(data)
    digest = blake2b(text, digest_size=16).digest()

    def micros(t: datetime) -> int:
        return (t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)

    return (
        p.protocol, p.device_id, micros(p.fix_time), round(p.latitude * 1e7),
        round(p.longitude * 1e7), micros(received),
        (text[:-1] + tail + b"}" if tail else text).decode(), digest,
    )  # fmt: skip


_V3_POSITIONS = [
    pos(1, checksum_ok=True, archive=False, ignition=True, satellites=9, event=0),
    pos(2, alarm="Überdrehzahl", io={"239": 1, "66": 12800, "tiny": 1e-05, "priority": 1}),
    pos(3, io={"blob": b"\x00\xff", "vin": "WVW"}, odometer_m=1e16, hdop=0.9),
    pos(4, io={"big": 2**70}, engine_hours_s=3600.0),
    pos(5, checksum_ok=False, archive=True, event="ALM"),
    pos(5, device="other", protocol="gt06", archive=True, gsm_signal=4, battery_v=4.1),
]


async def test_version_3_file_is_converted_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    received = datetime(2026, 11, 1, 9, tzinfo=UTC)
    with sqlite3.connect(path) as conn:
        conn.executescript(_V3_SCHEMA)
        conn.executemany(
            "INSERT INTO positions (protocol, device_id, fix_time_us, lat_e7, lon_e7,"
            " received_us, data, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [_v3_row(p, received) for p in _V3_POSITIONS],
        )
        conn.execute(  # a damaged row is kept through the conversion
            "INSERT INTO positions (protocol, device_id, fix_time_us, lat_e7, lon_e7,"
            " received_us, data, digest) VALUES ('teltonika', 'damaged', 1, 0, 0, 0,"
            " '{not json', x'00')"
        )
    conn.close()
    # what the journal reads back: raw is not kept, bytes come back as hex text
    expected = [
        replace(p, raw=b"", io={k: v.hex() if isinstance(v, bytes) else v for k, v in p.io.items()})
        for p in _V3_POSITIONS
    ]
    async with TrackerJournal(path, retention_days=None) as journal:
        assert await journal.count() == 7
        records = await journal.positions("356307042441013")
        assert [r.position for r in records] == expected[:5]
        assert [r.seq for r in records] == [1, 2, 3, 4, 5]
        assert {r.received_at for r in records} == {received}
        assert records[3].position.io["big"] == 2**70
        latest = await journal.latest("other", protocol="gt06")
        assert latest is not None
        assert latest.position == expected[5]
        assert await journal.devices() == [
            ("gt06", "other"),
            ("teltonika", "356307042441013"),
            ("teltonika", "damaged"),
        ]
        # resends of records stored before the upgrade are recognised
        assert await journal.append(_V3_POSITIONS) == [False] * 6
        changed = replace(_V3_POSITIONS[1], alarm="Überdrehzahl!")
        assert await journal.append([changed, changed]) == [True, False]
        assert await journal.count() == 8
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
        stored = dict(conn.execute("SELECT device_id, data FROM positions WHERE seq IN (6, 7)"))
        assert stored["damaged"] == "{not json"
        assert json.loads(stored["other"])[-2:] == [None, True]  # checksum_ok, archive
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "positions_key" in indexes
        assert "positions_record" not in indexes  # version 2-4's index, led by the device
    conn.close()
    async with TrackerJournal(path, retention_days=None) as journal:  # reopening is a no-op
        assert await journal.append([*_V3_POSITIONS, changed]) == [False] * 7
        after = [r.position for r in await journal.positions("356307042441013")]
        # the changed record has the second one's fix time: it follows it
        assert after == [*expected[:2], replace(changed, raw=b""), *expected[2:5]]


# Version 4 (2026-12-04): the tables of versions 2 and 3 (an identity index led by the device),
# rows as JSON arrays.
_V4_SCHEMA = _V2_SCHEMA.replace("PRAGMA user_version=2;", "PRAGMA user_version=4;")


async def test_version_4_file_is_migrated_and_loses_nothing(tmp_path: Path) -> None:
    """A journal of version 4 (rows as the code before stored them) opens as version 5."""
    path = tmp_path / "v4.db"
    received = datetime(2026, 12, 1, tzinfo=UTC)
    devices = ("356307042441013", "356307042441014", "osmand-1")
    stored = [
        pos(i, device=device, protocol="osmand" if device == "osmand-1" else "teltonika")
        for device in devices
        for i in range(40)
    ]
    conn = sqlite3.connect(path)
    with conn:
        conn.executescript(_V4_SCHEMA)
        # the rows exactly as version 4 wrote them: its row function, its insert
        conn.executemany(
            "INSERT INTO positions (protocol, device_id, fix_time_us, lat_e7, lon_e7,"
            " received_us, data, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [journal_module._row(p, journal_module._micros(received)) for p in stored],
        )
        conn.execute(
            "INSERT INTO frames (protocol, device_id, received_us, kind, raw, digest)"
            " VALUES ('gt06', 'x', 1, '0x8C', x'01', x'02')"
        )
    conn.close()
    async with TrackerJournal(path, retention_days=None) as journal:
        assert await journal.count() == len(stored)
        for device in devices:
            protocol = "osmand" if device == "osmand-1" else "teltonika"
            mine = [p for p in stored if p.device_id == device]
            records = await journal.positions(device, protocol=protocol)
            assert [replace(r.position, raw=b"") for r in records] == [
                replace(p, raw=b"") for p in mine
            ]
            latest = await journal.latest(device)
            assert latest is not None
            assert latest.position.fix_time == mine[-1].fix_time
        # a resend of a record stored before the upgrade is recognised
        assert await journal.append(stored[:3]) == [False, False, False]
        assert await journal.append([pos(99)]) == [True]
        assert await journal.devices() == [
            ("osmand", "osmand-1"),
            ("teltonika", "356307042441013"),
            ("teltonika", "356307042441014"),
        ]
        assert len(await journal.frames()) == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "positions_record" not in indexes
        assert "positions_key" in indexes
        # every row of the old file is indexed by device at the upgrade
        assert conn.execute("SELECT COUNT(*) FROM positions_by_device").fetchone()[0] == 120
    conn.close()


async def test_reads_join_indexed_and_newer_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows reach the per-device index in batches; reads see every row all the same."""
    monkeypatch.setattr(journal_module, "INDEX_BATCH", 7)
    path = tmp_path / "j.db"

    def indexed() -> int:
        with sqlite3.connect(path) as conn:
            count = int(conn.execute("SELECT COUNT(*) FROM positions_by_device").fetchone()[0])
        conn.close()
        return count

    async with TrackerJournal(path, retention_days=None) as journal:
        # sent newest first, two devices interleaved, in batches of 3
        order = list(range(20, 0, -1))
        for start in range(0, len(order), 3):
            chunk = order[start : start + 3]
            await journal.append([pos(i) for i in chunk] + [pos(i, device="b") for i in chunk])
        assert 0 < indexed() < 40  # some rows wait for the next batch
        records = await journal.positions("356307042441013")
        assert [r.position.fix_time for r in records] == [pos(i).fix_time for i in range(1, 21)]
        page = await journal.positions("b", since=pos(5).fix_time, limit=4)
        assert [r.position.fix_time for r in page] == [pos(i).fix_time for i in range(6, 10)]
        latest = await journal.latest("b", protocol="teltonika")
        assert latest is not None
        assert latest.position.fix_time == pos(20).fix_time
        assert await journal.count("b") == 20
        assert await journal.count("b", protocol="osmand") == 0
        await journal.append([pos(30, device="c")])  # only among the newer rows
        assert await journal.devices() == [
            ("teltonika", "356307042441013"),
            ("teltonika", "b"),
            ("teltonika", "c"),
        ]
        newest = await journal.latest("c")
        assert newest is not None
        assert newest.position.fix_time == pos(30).fix_time
    async with TrackerJournal(path, retention_days=None) as journal:  # opening indexes the rest
        assert indexed() == 41
        assert len(await journal.positions("356307042441013")) == 20


async def test_pruning_removes_rows_from_the_device_index_too(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 1, tzinfo=UTC))
    path = tmp_path / "j.db"
    async with TrackerJournal(path, retention_days=7, clock=clock) as journal:
        await journal.append([pos(i) for i in range(5)])
        clock.now += timedelta(days=8)
        await journal.append([pos(i, device="other") for i in range(2)])
        assert await journal.prune() == 4
        assert [r.position.fix_time for r in await journal.positions("356307042441013")] == [
            pos(4).fix_time
        ]
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT device_id, seq FROM positions_by_device ORDER BY device_id, seq"
        ).fetchall()
        assert (
            rows
            == conn.execute(
                "SELECT device_id, seq FROM positions ORDER BY device_id, seq"
            ).fetchall()
        )
        assert len(rows) == 3
    conn.close()


async def test_a_failed_indexing_loses_no_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(journal_module, "INDEX_BATCH", 1)
    monkeypatch.setattr(journal_module, "_INDEX_ROWS", "INSERT INTO no_such_table VALUES (?1, ?2)")
    async with TrackerJournal(tmp_path / "j.db", retention_days=None) as journal:
        assert await journal.append([pos(1), pos(2)]) == [True, True]
        assert len(await journal.positions("356307042441013")) == 2  # after the indexing
        assert "indexing by device failed" in caplog.text
        # a failing indexing (a full disk) is not tried again with every append
        for i in range(3, 8):
            assert await journal.append([pos(i)]) == [True]
        assert len(await journal.positions("356307042441013")) == 7
        assert caplog.text.count("indexing by device failed") == 1


async def test_pruning_works_while_indexing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Rows that never reached the device index are pruned; each device's newest stays."""
    clock = Clock(datetime(2026, 11, 1, tzinfo=UTC))
    monkeypatch.setattr(journal_module, "_INDEX_ROWS", "INSERT INTO no_such_table VALUES (?1, ?2)")
    async with TrackerJournal(tmp_path / "j.db", retention_days=7, clock=clock) as journal:
        # sent newest first: the newest fix has the smallest seq
        await journal.append([pos(i) for i in range(5, 0, -1)] + [pos(0, device="quiet")])
        clock.now += timedelta(days=8)
        assert await journal.prune() == 4
        assert "indexing by device failed" in caplog.text
        assert [r.position.fix_time for r in await journal.positions("356307042441013")] == [
            pos(5).fix_time
        ]
        assert await journal.count() == 2


async def test_two_journals_on_one_file_read_each_row_once(tmp_path: Path) -> None:
    """Rows another connection indexed are not read twice (the indexed seq is read each time)."""
    path = tmp_path / "j.db"
    async with TrackerJournal(path, retention_days=None) as first:
        await first.append([pos(i) for i in range(3)])
        async with TrackerJournal(path, retention_days=None) as second:  # indexes at open
            assert await second.count("356307042441013") == 3
        records = await first.positions("356307042441013")
        assert [r.seq for r in records] == [1, 2, 3]
        assert await first.count("356307042441013") == 3
        latest = await first.latest("356307042441013")
        assert latest is not None
        assert latest.seq == 3
        assert await first.devices() == [("teltonika", "356307042441013")]


async def test_the_answer_does_not_wait_for_the_device_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The append that completes a batch is answered before the batch is indexed."""
    monkeypatch.setattr(journal_module, "INDEX_BATCH", 2)
    started = threading.Event()
    release = threading.Event()
    released: list[bool] = []  # False: the indexing waited in vain for the answer
    original = TrackerJournal._index_sync

    def slow_index(self: TrackerJournal) -> None:
        started.set()
        released.append(release.wait(5))
        original(self)

    monkeypatch.setattr(TrackerJournal, "_index_sync", slow_index)
    async with TrackerJournal(tmp_path / "j.db", retention_days=None) as journal:
        assert await journal.append([pos(1), pos(2)]) == [True, True]
        assert await asyncio.to_thread(started.wait, 10)  # the indexing runs after the answer
        release.set()
        assert len(await journal.positions("356307042441013")) == 2
    assert released == [True]
