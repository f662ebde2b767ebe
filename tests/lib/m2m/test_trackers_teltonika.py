"""Teltonika Codec 8/8E/16 packets built from the vendor specification, round-tripped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from custom_components.thingbridge.m2m.trackers import (
    ChecksumError,
    CommandResponse,
    FieldError,
    Frame,
    FrameError,
    GarbageError,
    Login,
    NotIdentifiedError,
    ProtocolError,
    TeltonikaDecoder,
    TeltonikaUdpDecoder,
    UnsupportedMessage,
    crc16_ibm,
)
from custom_components.thingbridge.m2m.trackers.teltonika import build_command

IMEI = "356307042441013"
T0 = datetime(2024, 5, 17, 8, 30, 15, 250000, tzinfo=UTC)


def spec_crc16_ibm(data: bytes) -> int:
    """CRC-16/IBM bit by bit, as the vendor's reference code computes it."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@dataclass
class Rec:
    """One AVL record's values."""

    time: datetime = T0
    priority: int = 1
    lon: float = 25.2618832
    lat: float = 54.6990336
    alt: int = 112
    angle: int = 270
    sats: int = 9
    speed: int = 57
    event: int = 0
    io: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # size -> [(id, value)]
    nx: list[tuple[int, bytes]] = field(default_factory=list)


def encode_record(rec: Rec, codec: int) -> bytes:
    wide = codec == 0x8E
    id_size = 2 if codec in (0x8E, 0x10) else 1
    n_size = 2 if wide else 1
    out = int(rec.time.timestamp() * 1000).to_bytes(8, "big") + bytes((rec.priority,))
    out += round(rec.lon * 1e7).to_bytes(4, "big", signed=True) + round(rec.lat * 1e7).to_bytes(
        4, "big", signed=True
    )
    out += (
        rec.alt.to_bytes(2, "big", signed=True) + rec.angle.to_bytes(2, "big") + bytes((rec.sats,))
    )
    out += rec.speed.to_bytes(2, "big") + rec.event.to_bytes(id_size, "big")
    if codec == 0x10:
        out += b"\x01"  # generation type: on change
    total = sum(len(v) for v in rec.io.values()) + len(rec.nx)
    out += total.to_bytes(n_size, "big")
    for size in (1, 2, 4, 8):
        items = rec.io.get(size, [])
        out += len(items).to_bytes(n_size, "big")
        for io_id, value in items:
            out += io_id.to_bytes(id_size, "big") + value.to_bytes(size, "big")
    if wide:
        out += len(rec.nx).to_bytes(2, "big")
        for nx_id, blob in rec.nx:
            out += nx_id.to_bytes(2, "big") + len(blob).to_bytes(2, "big") + blob
    return out


def data_field(records: list[Rec], codec: int) -> bytes:
    body = b"".join(encode_record(r, codec) for r in records)
    return bytes((codec, len(records))) + body + bytes((len(records),))


def encode_packet(records: list[Rec], codec: int = 0x08, *, crc: int | None = None) -> bytes:
    data = data_field(records, codec)
    value = spec_crc16_ibm(data) if crc is None else crc
    return b"\x00\x00\x00\x00" + len(data).to_bytes(4, "big") + data + value.to_bytes(4, "big")


def encode_login(imei: str = IMEI) -> bytes:
    return len(imei).to_bytes(2, "big") + imei.encode()


def encode_udp(
    records: list[Rec],
    codec: int = 0x08,
    *,
    imei: str = IMEI,
    packet_id: int = 0xCAFE,
    avl_id: int = 0x05,
) -> bytes:
    body = (
        packet_id.to_bytes(2, "big")
        + b"\x01"
        + bytes((avl_id,))
        + encode_login(imei)
        + data_field(records, codec)
    )
    return len(body).to_bytes(2, "big") + body


def full_record() -> Rec:
    return Rec(
        event=239,
        io={
            1: [(239, 1), (240, 0), (21, 4), (113, 87), (253, 2), (236, 1)],
            2: [(66, 12345), (67, 4100), (182, 12)],
            4: [(16, 123456), (199, 789)],
            8: [(78, 0x0102030405060708)],
        },
    )


def _frames(items: list[Frame | ProtocolError]) -> list[Frame]:
    assert all(isinstance(i, Frame) for i in items), items
    return [i for i in items if isinstance(i, Frame)]


def test_crc_check_values() -> None:
    assert crc16_ibm(b"123456789") == 0xBB3D == spec_crc16_ibm(b"123456789")


def test_login_then_codec8_roundtrip() -> None:
    decoder = TeltonikaDecoder()
    login, avl = _frames(decoder.feed(encode_login() + encode_packet([full_record()])))
    assert login.kind == "login"
    assert login.reply == b"\x01"
    assert login.reject_reply == b"\x00"
    assert isinstance(login.messages[0], Login)
    assert login.messages[0].device_id == IMEI
    assert avl.kind == "avl"
    assert avl.reply == b"\x00\x00\x00\x01"
    assert avl.checksum_ok is True
    (pos,) = avl.positions
    assert pos.device_id == IMEI
    assert pos.fix_time == T0
    assert pos.latitude == pytest.approx(54.6990336, abs=1e-7)
    assert pos.longitude == pytest.approx(25.2618832, abs=1e-7)
    assert (pos.altitude_m, pos.course_deg, pos.satellites, pos.speed_kmh) == (112, 270, 9, 57)
    assert pos.valid is True
    assert pos.ignition is True
    assert pos.motion is False
    assert pos.gsm_signal == 4
    assert pos.battery_percent == 87
    assert pos.external_voltage_v == pytest.approx(12.345)
    assert pos.battery_v == pytest.approx(4.1)
    assert pos.hdop == pytest.approx(1.2)
    assert pos.odometer_m == 123456
    assert pos.trip_odometer_m == 789
    assert pos.alarm == "braking,general"
    assert pos.event == 239
    assert pos.io["78"] == 0x0102030405060708
    assert pos.io["priority"] == 1
    assert pos.raw == encode_packet([full_record()])


def test_codec8e_two_byte_ids_and_variable_length_group() -> None:
    rec = Rec(
        event=449,
        io={1: [(239, 0)], 4: [(449, 7200), (16, 99)], 2: [(24, 57)]},
        nx=[(256, b"WVWZZZ1JZXW000001"), (281, b"P0101,P0300"), (10500, b"\x00\xff\x10")],
    )
    (frame,) = _frames(TeltonikaDecoder(device_id=IMEI).feed(encode_packet([rec], 0x8E)))
    (pos,) = frame.positions
    assert pos.engine_hours_s == 7200
    assert pos.ignition is False
    assert pos.odometer_m == 99
    assert pos.io["256"] == "WVWZZZ1JZXW000001"
    assert pos.io["281"] == "P0101,P0300"
    assert pos.io["10500"] == b"\x00\xff\x10"
    assert pos.event == 449


def test_codec16_generation_type_and_two_byte_ids() -> None:
    rec = Rec(event=300, io={1: [(240, 1)], 4: [(449, 60)]})
    (frame,) = _frames(TeltonikaDecoder(device_id=IMEI).feed(encode_packet([rec], 0x10)))
    (pos,) = frame.positions
    assert pos.motion is True
    assert pos.engine_hours_s == 60
    assert pos.event == 300


def test_several_records_acked_with_their_count_and_negative_coordinates() -> None:
    records = [
        Rec(lat=-33.8688, lon=-151.2093 + i, time=T0.replace(second=i), sats=0, speed=0)
        for i in range(3)
    ]
    (frame,) = _frames(TeltonikaDecoder(device_id=IMEI).feed(encode_packet(records)))
    assert frame.reply == (3).to_bytes(4, "big")
    assert [p.longitude for p in frame.positions] == pytest.approx(
        [-151.2093, -150.2093, -149.2093]
    )
    assert all(p.latitude == pytest.approx(-33.8688) for p in frame.positions)
    assert all(p.valid is False for p in frame.positions)  # no satellites: no fix


def test_data_before_login_is_not_acknowledged() -> None:
    (err,) = TeltonikaDecoder().feed(encode_packet([Rec()]))
    assert isinstance(err, NotIdentifiedError)


def test_bad_crc_strict_and_lenient() -> None:
    packet = encode_packet([Rec()], crc=0x1234)
    good = spec_crc16_ibm(data_field([Rec()], 0x08))
    (err,) = TeltonikaDecoder(device_id=IMEI).feed(packet)
    assert isinstance(err, ChecksumError)
    assert (err.expected, err.actual) == (good, 0x1234)
    (frame,) = _frames(TeltonikaDecoder(device_id=IMEI, lenient=True).feed(packet))
    assert frame.checksum_ok is False
    assert frame.positions[0].checksum_ok is False
    assert frame.reply == b"\x00\x00\x00\x01"


def test_count_mismatch_and_trailing_bytes_are_frame_errors() -> None:
    data = data_field([Rec()], 0x08)
    mismatched = data[:-1] + b"\x02"
    packet = (
        b"\x00" * 4
        + len(mismatched).to_bytes(4, "big")
        + mismatched
        + spec_crc16_ibm(mismatched).to_bytes(4, "big")
    )
    (err,) = TeltonikaDecoder(device_id=IMEI).feed(packet)
    assert isinstance(err, FieldError)
    assert err.field == "number_of_data_2"
    padded = data[:-1] + b"\xaa" + data[-1:]
    packet = (
        b"\x00" * 4
        + len(padded).to_bytes(4, "big")
        + padded
        + spec_crc16_ibm(padded).to_bytes(4, "big")
    )
    (err,) = TeltonikaDecoder(device_id=IMEI).feed(packet)
    assert isinstance(err, FrameError)
    assert "unexpected byte" in str(err)


def test_truncated_record_names_the_field() -> None:
    data = bytes((0x08, 1)) + encode_record(Rec(), 0x08)[:20] + b"\x01"
    packet = (
        b"\x00" * 4 + len(data).to_bytes(4, "big") + data + spec_crc16_ibm(data).to_bytes(4, "big")
    )
    (err,) = TeltonikaDecoder(device_id=IMEI).feed(packet)
    assert isinstance(err, FrameError)
    assert "record 1/1" in str(err)


def test_out_of_range_latitude_is_a_field_error() -> None:
    (err,) = TeltonikaDecoder(device_id=IMEI).feed(encode_packet([Rec(lat=120.0)]))
    assert isinstance(err, FieldError)
    assert err.field == "latitude"


def test_segmentation_byte_by_byte_and_merged() -> None:
    stream = (
        encode_login()
        + encode_packet([full_record()])
        + b"\xff"
        + encode_packet([Rec(), Rec()], 0x8E)
    )
    whole = TeltonikaDecoder().feed(stream)
    assert [f.kind for f in _frames(whole)] == ["login", "avl", "keepalive", "avl"]
    decoder = TeltonikaDecoder()
    pieces: list[Frame | ProtocolError] = []
    for i in range(len(stream)):
        pieces += decoder.feed(stream[i : i + 1])
        assert decoder.buffered <= decoder.max_buffer
    assert pieces == whole
    assert decoder.buffered == 0
    decoder = TeltonikaDecoder()
    odd = decoder.feed(stream[:7]) + decoder.feed(stream[7:60]) + decoder.feed(stream[60:])
    assert odd == whole


def test_garbage_is_reported_and_the_stream_resynchronises() -> None:
    decoder = TeltonikaDecoder(device_id=IMEI)
    items = decoder.feed(
        b"GET / HTTP/1.1\r\n\r\n" + encode_packet([Rec()]) + b"\x13\x37" + encode_packet([Rec()])
    )
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["GarbageError", "Frame", "GarbageError", "Frame"]
    first = items[0]
    assert isinstance(first, GarbageError)
    assert first.skipped == 18


def test_absurd_length_is_not_a_frame_start() -> None:
    decoder = TeltonikaDecoder(device_id=IMEI)
    items = decoder.feed(b"\x00\x00\x00\x00\x7f\xff\xff\xff\x08" + encode_packet([Rec()]))
    assert isinstance(items[0], GarbageError)
    assert isinstance(items[-1], Frame)


def test_codec12_response_and_command_builder() -> None:
    assert (
        build_command("getinfo").hex().upper()
        == "000000000000000F0C010500000007676574696E666F0100004312"
    )
    text = b"RTC:2024/5/17 8:30 Init:2024/5/1"
    body = bytes((0x0C, 1, 0x06)) + len(text).to_bytes(4, "big") + text + b"\x01"
    packet = (
        b"\x00" * 4 + len(body).to_bytes(4, "big") + body + spec_crc16_ibm(body).to_bytes(4, "big")
    )
    (frame,) = _frames(TeltonikaDecoder(device_id=IMEI).feed(packet))
    assert frame.kind == "codec12"
    assert frame.reply is None
    (response,) = frame.messages
    assert isinstance(response, CommandResponse)
    assert response.text == text.decode()
    assert response.message_type == 6


def test_unknown_codec_is_unsupported_but_acknowledged() -> None:
    body = bytes((0x07, 1, 0, 0, 0, 0, 1))
    packet = (
        b"\x00" * 4 + len(body).to_bytes(4, "big") + body + spec_crc16_ibm(body).to_bytes(4, "big")
    )
    (err,) = TeltonikaDecoder(device_id=IMEI).feed(packet)
    assert isinstance(err, UnsupportedMessage)
    assert err.message_type == "codec 0x07"
    assert err.reply == b"\x00\x00\x00\x01"


def test_udp_datagram_roundtrip_and_reply() -> None:
    datagram = encode_udp([full_record(), Rec()], packet_id=0xBEEF, avl_id=0x2A)
    (frame,) = _frames(TeltonikaUdpDecoder().decode_datagram(datagram))
    assert frame.device_id == IMEI
    assert frame.reply == bytes.fromhex("0005BEEF012A02")
    assert len(frame.positions) == 2
    assert frame.positions[0].ignition is True


def test_udp_errors() -> None:
    datagram = encode_udp([Rec()])
    (err,) = TeltonikaUdpDecoder().decode_datagram(datagram + b"\x00")
    assert isinstance(err, FieldError)
    assert err.field == "length"
    (err,) = TeltonikaUdpDecoder().decode_datagram(datagram[:30])
    assert isinstance(err, ProtocolError)
    bad_imei = datagram[:8] + b"ABCDEFGHIJKLMNO" + datagram[23:]
    (err,) = TeltonikaUdpDecoder().decode_datagram(bad_imei)
    assert isinstance(err, FieldError)
    assert err.field == "imei"


def test_feed_never_raises_on_a_decoder_bug_path() -> None:
    decoder = TeltonikaDecoder(device_id=IMEI)
    assert decoder.feed(b"") == []
    assert decoder.flush() == []
    decoder.feed(encode_packet([Rec()])[:20])
    assert decoder.buffered == 20
    (err,) = decoder.flush()
    assert "input ended inside a frame" in str(err)
    assert decoder.buffered == 0


def test_codec14_device_answer_is_unsupported_without_ack() -> None:
    body = (
        bytes((0x0E, 1, 0x11))
        + (8).to_bytes(4, "big")
        + bytes.fromhex("0352093081452251")
        + b"\x01"
    )
    packet = (
        b"\x00" * 4 + len(body).to_bytes(4, "big") + body + spec_crc16_ibm(body).to_bytes(4, "big")
    )
    (err,) = TeltonikaDecoder(device_id=IMEI).feed(packet)
    assert isinstance(err, UnsupportedMessage)
    assert err.reply is None
