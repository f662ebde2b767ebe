"""The fast paths the gateway's hot loop takes give what the general code gives.

- Teltonika records: :func:`teltonika._decode_records` (struct-based fast path, falling back
  to the field-by-field decoder) against the field-by-field decoder alone, on generated
  Codec 8 / 8E / 16 records, intact and damaged: same positions (IO order included), same
  errors; and intact records never need the fallback.
- CRC-16/IBM: the two-bytes-per-step table against the bit-by-bit definition, also on the
  byte-wise path big-endian machines take.
- Gateway idle timeout: time spent waiting for the journal does not count as idle.
"""

from __future__ import annotations

import asyncio
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from pathlib import Path
import sqlite3
import sys

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.thingbridge.m2m.gateway import TrackerGateway
from custom_components.thingbridge.m2m.journal import TrackerJournal
from custom_components.thingbridge.m2m.trackers import Position, ProtocolError, teltonika
from custom_components.thingbridge.m2m.trackers.checksum import crc16_ibm
from custom_components.thingbridge.m2m.trackers.model import IoValue, new_position
from simulator.trackers import circle_route, make_fixes, teltonika_avl, teltonika_login

HOST = "127.0.0.1"
IMEI = "356307042441013"
MAPPED_IDS = [239, 240, 66, 67, 113, 21, 16, 199, 182, 236, 246, 247, 249, 252, 253, 1, 0, 255]
WIDE_IDS = [*MAPPED_IDS, 449, 300, 1200, 65535]


def _io_items(messages: object) -> list[tuple[Position, list[tuple[str, IoValue]]]]:
    """Each position with its IO in order (``==`` on dicts ignores the order)."""
    assert isinstance(messages, list)
    out = []
    for message in messages:
        assert isinstance(message, Position)
        out.append((message, list(message.io.items())))
    return out


def _spec_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@st.composite
def _record(draw: st.DrawFn, codec: int) -> bytes:
    """One AVL record of ``codec``, mostly plausible, sometimes out of range."""
    wide = codec == teltonika.CODEC_8E
    id_size = 2 if codec in (teltonika.CODEC_8E, teltonika.CODEC_16) else 1
    n_size = 2 if wide else 1
    millis = draw(st.one_of(st.integers(0, 4_102_444_800_000), st.integers(0, 2**64 - 1)))
    lon = draw(
        st.one_of(st.integers(-1_800_000_000, 1_800_000_000), st.integers(-(2**31), 2**31 - 1))
    )
    lat = draw(st.integers(-900_000_001, 900_000_001))
    out = millis.to_bytes(8, "big") + bytes([draw(st.integers(0, 255))])
    out += lon.to_bytes(4, "big", signed=True) + lat.to_bytes(4, "big", signed=True)
    out += draw(st.binary(min_size=7, max_size=7))  # altitude, angle, satellites, speed
    out += draw(st.integers(0, 2 ** (8 * id_size) - 1)).to_bytes(id_size, "big")
    if codec == teltonika.CODEC_16:
        out += b"\x01"  # generation type
    out += draw(st.integers(0, 9)).to_bytes(n_size, "big")  # IO total (not checked)
    ids = st.sampled_from(WIDE_IDS if id_size == 2 else MAPPED_IDS)
    for size in (1, 2, 4, 8):
        n = draw(st.integers(0, 4))
        out += n.to_bytes(n_size, "big")
        for _ in range(n):
            value = draw(st.sampled_from([0, 1, 2, 3, 12_800, 2 ** (8 * size) - 1]))
            out += draw(ids).to_bytes(id_size, "big") + (value % 2 ** (8 * size)).to_bytes(
                size, "big"
            )
    if wide:
        nx = draw(st.integers(0, 3))
        out += nx.to_bytes(2, "big")
        for _ in range(nx):
            blob = draw(st.sampled_from([b"WVWZZZ1JZXW000001", b"\x00\x01", b"", b"P0420,P0171"]))
            io_id = draw(st.sampled_from([256, 281, 325, 500]))
            out += io_id.to_bytes(2, "big") + len(blob).to_bytes(2, "big") + blob
    return out


@st.composite
def _records(draw: st.DrawFn) -> tuple[int, int, bytes, bool, bool]:
    """``(codec, count, data, strict, intact)``: records, maybe damaged."""
    codec = draw(st.sampled_from(sorted(teltonika.AVL_CODECS)))
    records = draw(st.lists(_record(codec), max_size=4))
    data = b"".join(records)
    count = len(records)
    damage = draw(st.sampled_from(["none", "none", "byte", "cut", "extra", "count"]))
    if damage == "byte" and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :]
    elif damage == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif damage == "extra":
        data += draw(st.binary(min_size=1, max_size=5))
    elif damage == "count":
        count = draw(st.integers(0, 6))
    return codec, count, data, draw(st.booleans()), damage == "none"


def _outcome(decode: object, codec: int, count: int, data: bytes, strict: bool) -> object:
    assert callable(decode)
    try:
        positions = decode(
            data, 0, len(data), codec, count,
            device_id=IMEI, raw=data, checksum_ok=True, strict=strict,
        )  # fmt: skip
    except ProtocolError as err:
        return (type(err).__name__, str(err))
    return _io_items(positions)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_records())
def test_fast_record_decoding_matches_the_field_by_field_decoder(
    case: tuple[int, int, bytes, bool, bool],
) -> None:
    codec, count, data, strict, intact = case
    fast = _outcome(teltonika._decode_records, codec, count, data, strict)
    checked = _outcome(teltonika._decode_records_checked, codec, count, data, strict)
    assert fast == checked
    if isinstance(checked, list) and (intact or count == 0):
        # what decodes at all decodes on the fast path, without the fallback
        direct = teltonika._decode_records_fast(
            data, 0, len(data), codec, count, IMEI, data, True, strict
        )
        assert _io_items(direct) == checked


def test_a_big_io_group_decodes_on_the_fast_path() -> None:
    n = 100  # more one-byte values than the layout cache keeps
    record = (
        (1_700_000_000_000).to_bytes(8, "big") + b"\x01"
        + (252_618_832).to_bytes(4, "big") + (546_990_336).to_bytes(4, "big")
        + b"\x00\x70\x01\x0e\x09\x00\x39" + b"\xef" + bytes([n])
        + bytes([n]) + b"".join(bytes((i, i)) for i in range(n))
        + b"\x00\x00\x00"
    )  # fmt: skip
    positions = teltonika._decode_records_fast(
        record, 0, len(record), teltonika.CODEC_8, 1, IMEI, record, True, True
    )
    checked = teltonika._decode_records_checked(
        record, 0, len(record), teltonika.CODEC_8, 1,
        device_id=IMEI, raw=record, checksum_ok=True, strict=True,
    )  # fmt: skip
    assert _io_items(positions) == _io_items(checked)
    first = _io_items(positions)[0][0]
    assert list(first.io) == ["priority", *(str(i) for i in range(n))]
    assert first.gsm_signal == 21  # IO 21 = 21
    assert first.odometer_m == 16.0  # IO 16 = 16
    assert first.ignition is None  # IO 239 is not among 0-99


def _avl_record(
    codec: int, groups: list[list[tuple[int, int]]], nx: tuple[tuple[int, bytes], ...] = ()
) -> bytes:
    """One record of ``codec`` with the IO groups (ID, value) given (N1, N2, N4, N8)."""
    wide = codec == teltonika.CODEC_8E
    id_size = 1 if codec == teltonika.CODEC_8 else 2
    n_size = 2 if wide else 1
    out = (
        (1_700_000_000_000).to_bytes(8, "big") + b"\x01"
        + (252_618_832).to_bytes(4, "big") + (546_990_336).to_bytes(4, "big")
        + b"\x00\x70\x01\x0e\x09\x00\x39" + (0).to_bytes(id_size, "big")
        + (b"\x00" if codec == teltonika.CODEC_16 else b"")
        + (sum(map(len, groups)) + len(nx)).to_bytes(n_size, "big")
    )  # fmt: skip
    for g, items in enumerate(groups):
        out += len(items).to_bytes(n_size, "big")
        for io_id, value in items:
            out += io_id.to_bytes(id_size, "big") + value.to_bytes(1 << g, "big")
    if wide:
        out += len(nx).to_bytes(2, "big")
        for io_id, blob in nx:
            out += io_id.to_bytes(2, "big") + len(blob).to_bytes(2, "big") + blob
    return out


@pytest.mark.parametrize("codec", sorted(teltonika.AVL_CODECS))
def test_records_laid_out_alike_decode_the_same_from_the_layout_cache(
    codec: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a tracker's records mostly repeat one IO layout: after the first, a record is read in
    # one call when its IDs and counts match a layout seen before; one with the same N1
    # count and other IDs, or other counts, is read group by group, as are the rest
    a = [[(239, 1), (240, 0), (21, 4)], [(66, 12800)], [(16, 123_456)], [(199, 7)]]
    other_ids = [[(239, 1), (246, 1), (21, 4)], [(66, 12800)], [(16, 123_456)], [(199, 7)]]
    other_counts = [[(239, 0), (240, 1), (21, 3)], [(66, 12000), (67, 4100)], [], [(199, 8)]]
    repeated_id = [[(239, 1), (239, 0), (253, 2)], [(66, 11000)], [(16, 5)], [(199, 9)]]
    nx = ((256, b"WVWZZZ1JZXW000001"), (300, b"\x00\xff")) if codec == teltonika.CODEC_8E else ()
    records = [
        _avl_record(codec, a),
        _avl_record(codec, other_ids),
        _avl_record(codec, [[(i, v + 1) for i, v in g] for g in a]),  # A, other values
        _avl_record(codec, other_counts, nx),
        _avl_record(codec, repeated_id),
        _avl_record(codec, a, nx),
        _avl_record(codec, a),
    ]
    data = b"".join(records)
    checked = _outcome(teltonika._decode_records_checked, codec, len(records), data, True)
    layout = teltonika._LAYOUTS[codec]
    layout.shapes.clear()
    misses: list[object] = []
    remember = teltonika._Layout.remember

    def counted(self: teltonika._Layout, groups: list[tuple[int, ...]], nx: int) -> None:
        misses.append(groups)
        remember(self, groups, nx)

    monkeypatch.setattr(teltonika._Layout, "remember", counted)
    for attempt in range(3):  # a layout is kept once it has been met twice; then it is known
        misses.clear()
        fast = teltonika._decode_records_fast(
            data, 0, len(data), codec, len(records), IMEI, data, True, True
        )
        assert _io_items(fast) == checked
        if attempt:
            assert layout.shapes[3]  # N1 = 3 in every record
        if attempt == 2:  # every record read with a kept layout: none learnt again
            assert misses == []


@pytest.mark.parametrize("byteorder", ["little", "big"])
def test_crc16_ibm_matches_the_bitwise_definition(
    byteorder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "byteorder", byteorder)  # crc16_ibm reads it at each call
    assert crc16_ibm(b"123456789") == 0xBB3D
    data = bytes(range(256)) * 3
    for length in (0, 1, 2, 3, 57, 228, 229, len(data)):
        chunk = data[:length]
        expected = _spec_crc(chunk)
        assert crc16_ibm(chunk) == expected
        assert crc16_ibm(bytearray(chunk)) == expected
        assert crc16_ibm(memoryview(chunk)) == expected


@pytest.mark.usefixtures("socket_enabled")
async def test_waiting_for_the_journal_is_not_idle_time(tmp_path: Path) -> None:
    """A commit slower than the idle timeout still gets its ACK; the connection stays."""
    path = tmp_path / "journal.db"
    route = circle_route((54.6872, 25.2797), 400.0, 2)
    packet = teltonika_avl(make_fixes(route, start=datetime(2026, 11, 1, tzinfo=UTC)))
    async with TrackerJournal(path) as journal:
        gateway = TrackerGateway(
            journal,
            host=HOST,
            ports={"teltonika": 0},
            udp=False,
            is_registered=lambda p, d: True,
            on_positions=lambda p, ps: None,
            on_unknown_device=lambda p, d: None,
            idle_timeout=0.3,
        )
        async with gateway:
            reader, writer = await asyncio.open_connection(HOST, gateway.ports["teltonika"])
            writer.write(teltonika_login(IMEI))
            assert await reader.readexactly(1) == b"\x01"
            blocker = sqlite3.connect(path, timeout=5.0, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")  # the journal's commit waits for this lock
            try:
                writer.write(packet)
                await asyncio.sleep(1.0)  # several idle timeouts pass while it waits
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            assert await reader.readexactly(4) == (2).to_bytes(4, "big")
            assert gateway.stats.idle_timeouts == 0
            assert gateway.connected_devices() == {("teltonika", IMEI)}
            writer.close()
        assert await journal.count() == 2


def test_new_position_builds_the_same_position_as_the_dataclass() -> None:
    # every field, positionally in declaration order, distinct values so a swap shows
    values: dict[str, object] = {}
    for number, f in enumerate(dataclass_fields(Position)):
        values[f.name] = {
            "protocol": "teltonika",
            "device_id": "356307042441013",
            "raw": b"\x00\x01",
            "fix_time": datetime(2026, 11, 1, 8, tzinfo=UTC),
            "valid": True,
            "io": {"239": 1},
            "alarm": "sos",
            "event": 7,
        }.get(f.name, float(number) if "bool" not in str(f.type) else number % 2 == 0)
    made = new_position(*values.values())  # type: ignore[arg-type]
    expected = Position(**values)  # type: ignore[arg-type]
    assert made == expected
    assert hash(made) == hash(expected)
    assert [getattr(made, name) for name in values] == list(values.values())
