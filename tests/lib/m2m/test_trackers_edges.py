"""Edge cases of the tracker decoders: every rejection names what was wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from custom_components.thingbridge.m2m.trackers import (
    ChecksumError,
    CobanDecoder,
    CommandResponse,
    FieldError,
    Frame,
    FrameError,
    GarbageError,
    Gt06Decoder,
    H02Decoder,
    Heartbeat,
    Position,
    ProtocolError,
    StatusReport,
    StreamDecoder,
    TeltonikaDecoder,
    TeltonikaUdpDecoder,
    Tk103Decoder,
    UnsupportedMessage,
    parse_query,
    parse_request,
)
from custom_components.thingbridge.m2m.trackers._util import (
    bcd_digits,
    check_coordinates,
    from_epoch,
    parse_ddmm,
    parse_int,
)
from custom_components.thingbridge.m2m.trackers.h02 import _battery_percent
from custom_components.thingbridge.m2m.trackers.serialize import item_to_dict
from custom_components.thingbridge.m2m.trackers.stream import Step

from .test_trackers_gt06 import LBS, frame as gt06_frame, gps, login as gt06_login, status
from .test_trackers_teltonika import IMEI, Rec, encode_udp, spec_crc16_ibm
from .test_trackers_text import h02_binary, h02_text


def only(items: list[Frame | ProtocolError]) -> Frame | ProtocolError:
    assert len(items) == 1, items
    return items[0]


# --- shared field parsers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hemisphere", "expected"),
    [
        ("4807.038", "N", 48.1173),
        ("-4807.038", "", -48.1173),
        ("01131.000", "W", -11.516666),
        ("-11-31.0", "", -11.516666),
    ],
)
def test_parse_ddmm_forms(text: str, hemisphere: str, expected: float) -> None:
    assert parse_ddmm(text, hemisphere, "lat", protocol="t") == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("text", "hemisphere", "reason"),
    [
        ("48a7.038", "N", "ddmm"),
        ("4860.5", "N", "below 60"),
        ("4807.038", "Q", "hemisphere"),
        ("12", "N", "ddmm"),
        ("٤٨٠٧.٠٣٨", "N", "ddmm"),
    ],
)
def test_parse_ddmm_rejections(text: str, hemisphere: str, reason: str) -> None:
    with pytest.raises(FieldError, match=reason) as caught:
        parse_ddmm(text, hemisphere, "latitude", protocol="t")
    assert caught.value.field == "latitude"


def test_other_field_parsers() -> None:
    with pytest.raises(FieldError, match="finite"):
        from_epoch(float("inf"), field="ts", protocol="t")
    with pytest.raises(FieldError, match="valid timestamp"):
        from_epoch(1e18, field="ts", protocol="t")
    with pytest.raises(FieldError, match=r"-180\.\.180"):
        check_coordinates(0.0, 181.0, protocol="t")
    with pytest.raises(FieldError, match="base-16"):
        parse_int("12g", "n", protocol="t", base=16)
    assert parse_int("ff", "n", protocol="t", base=16) == 255
    with pytest.raises(FieldError, match="BCD"):
        bcd_digits(b"\x1a", "id", protocol="t")


# --- stream base -------------------------------------------------------------------------


class _Raising(StreamDecoder):
    protocol = "test"

    def _step(self, buf: bytes, pos: int) -> Step | None:
        raise FrameError(f"cannot decode byte {buf[pos]}", protocol=self.protocol)


def test_an_error_raised_inside_a_step_is_returned_not_raised() -> None:
    items = _Raising().feed(b"ab")
    assert [str(i) for i in items] == ["test: cannot decode byte 97", "test: cannot decode byte 98"]


# --- Teltonika ---------------------------------------------------------------------------


def _tcp(body: bytes) -> bytes:
    return (
        b"\x00" * 4 + len(body).to_bytes(4, "big") + body + spec_crc16_ibm(body).to_bytes(4, "big")
    )


def test_teltonika_command_message_errors() -> None:
    bad_size = bytes((0x0D, 1, 0x06)) + (2).to_bytes(4, "big") + b"ab" + b"\x01"
    err = only(TeltonikaDecoder(device_id=IMEI).feed(_tcp(bad_size)))
    assert isinstance(err, FieldError)
    assert err.field == "size"
    trailing = bytes((0x0C, 1, 0x06)) + (2).to_bytes(4, "big") + b"ok" + b"zz" + b"\x01"
    err = only(TeltonikaDecoder(device_id=IMEI).feed(_tcp(trailing)))
    assert isinstance(err, FrameError)
    two = bytes((0x0C, 2, 0x06)) + (2).to_bytes(4, "big") + b"ok" + b"\x02"
    err = only(TeltonikaDecoder(device_id=IMEI).feed(_tcp(two)))
    assert isinstance(err, FieldError)
    assert err.field == "quantity"
    binary = (
        bytes((0x0D, 1, 0x06))
        + (7).to_bytes(4, "big")
        + (1700000000).to_bytes(4, "big")
        + b"\x00\xff\x01"
        + b"\x01"
    )
    frame = only(TeltonikaDecoder(device_id=IMEI).feed(_tcp(binary)))
    assert isinstance(frame, Frame)
    (response,) = frame.messages
    assert isinstance(response, CommandResponse)
    assert response.text is None
    assert response.payload == b"\x00\xff\x01"
    assert response.time == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_teltonika_empty_packet_and_short_udp_data_field() -> None:
    body = bytes((0x08, 0x00, 0x00))
    frame = only(TeltonikaDecoder(device_id=IMEI).feed(_tcp(body)))
    assert isinstance(frame, Frame)
    assert frame.messages == ()
    assert frame.reply == b"\x00\x00\x00\x00"
    datagram = encode_udp([Rec()])[:23] + b"\x08\x01"
    datagram = (len(datagram) - 2).to_bytes(2, "big") + datagram[2:]
    err = only(TeltonikaUdpDecoder().decode_datagram(datagram))
    assert isinstance(err, FrameError)
    assert "too short" in str(err)
    assert err.device_id == IMEI
    changed = bytearray(encode_udp([Rec()]))
    changed[23] = 0x0C  # a codec the UDP channel does not carry
    err = only(TeltonikaUdpDecoder(lenient=True).decode_datagram(bytes(changed)))
    assert isinstance(err, ProtocolError)
    assert err.device_id == IMEI


# --- GT06 --------------------------------------------------------------------------------


def _gt06(data: bytes, **kwargs: object) -> list[Frame | ProtocolError]:
    return Gt06Decoder(**kwargs).feed(gt06_login() + data)[1:]  # type: ignore[arg-type]


def test_gt06_status_variants_and_short_contents() -> None:
    altitude = (1234).to_bytes(2, "big", signed=True)
    item = only(_gt06(gt06_frame(0x32, gps() + bytes((9,)) + LBS + status() + altitude)))
    assert isinstance(item, Frame)
    assert item.positions[0].altitude_m == 1234
    for number, content in ((0x16, gps() + b"\x09\x01"), (0x13, b""), (0x19, b"\x01"), (0x94, b"")):
        err = only(_gt06(gt06_frame(number, content, extended=number == 0x94)))
        assert isinstance(err, FrameError), (number, err)


def test_gt06_info_variants_and_string_info() -> None:
    iccid = bytes(16) + bytes.fromhex("89860012345678901fff")
    item = only(_gt06(gt06_frame(0x94, b"\x0a" + iccid, extended=True)))
    assert isinstance(item, Frame)
    report = item.messages[0]
    assert isinstance(report, StatusReport)
    assert report.io["iccid"] == "89860012345678901"
    item = only(_gt06(gt06_frame(0x94, b"\x05\x01", extended=True)))
    assert isinstance(item, Frame)
    assert item.messages[0].io["data"] == b"\x01"  # type: ignore[union-attr]
    for encoding, payload, text in (
        (1, b"Current position!", "Current position!"),
        (2, "状态".encode("utf-16-be"), "状态"),
        (2, b"\xd8\x00", None),
    ):
        item = only(_gt06(gt06_frame(0x21, b"\x00\x00\x00\x00" + bytes((encoding,)) + payload)))
        assert isinstance(item, Frame)
        assert item.reply is None
        response = item.messages[0]
        assert isinstance(response, CommandResponse)
        assert response.text == text
    err = only(_gt06(gt06_frame(0x15, b"\x02\x00\x00")))
    assert isinstance(err, FieldError)


def test_gt06_wifi_reply_timezone_bounds_and_short_frames() -> None:
    err = only(_gt06(gt06_frame(0x17, bytes.fromhex("240730235807") + b"\x00")))
    assert isinstance(err, UnsupportedMessage)
    assert err.reply == bytes.fromhex("78780017240730235807") + b"\r\n"
    decoder = Gt06Decoder()
    login = only(decoder.feed(gt06_login(type_code=1, tz_word=(2000 << 4))))
    assert isinstance(login, Frame)
    assert login.messages[0].utc_offset_s is None  # type: ignore[union-attr]
    assert only(Gt06Decoder().feed(b"\x78\x78\x01\x01\x0d\x0a")) is not None
    items = Gt06Decoder(lenient=True).feed(b"\x78\x78\x05\x13\x00\x01\xaa\xbb\x00\x00")
    assert items == []  # lenient: waiting for a 0D0A that may still come


def test_gt06_checksum_error_serialises_with_both_values() -> None:
    err = only(_gt06(gt06_frame(0x13, status(), crc=0x0102)))
    assert isinstance(err, ChecksumError)
    out = item_to_dict(err)
    assert out["error"] == "ChecksumError"
    assert out["actual"] == "0x0102"
    assert out["expected"] == f"0x{err.expected:04X}"


# --- text protocols ----------------------------------------------------------------------


def test_text_decoders_reject_non_ascii_and_shapeless_frames() -> None:
    for decoder in (Tk103Decoder(), H02Decoder(), CobanDecoder()):
        start = {"tk103": b"(", "h02": b"*", "coban": b"i"}[decoder.protocol]
        end = {"tk103": b")", "h02": b"#", "coban": b";"}[decoder.protocol]
        err = only(decoder.feed(start + b"\xff\xfe" + end))
        assert isinstance(err, FrameError)
        assert "ASCII" in str(err)
    assert isinstance(only(Tk103Decoder().feed(b"(12)")), FrameError)
    assert isinstance(only(H02Decoder().feed(b"*HQ#")), FrameError)
    err = only(Tk103Decoder().feed(b"(013612345678,ZC20,300724)"))
    assert isinstance(err, FrameError)
    err = only(Tk103Decoder().feed(b"(013612345678,ZC20,3007,2358,5,398,124,1)"))
    assert isinstance(err, FieldError)


def test_text_frame_longer_than_the_limit() -> None:
    decoder = H02Decoder(max_frame=100)
    items = decoder.feed(b"*HQ," + b"1" * 150 + b"#" + h02_text())
    assert isinstance(items[0], FrameError)
    assert "no frame terminator within 100 bytes" in str(items[0])
    assert isinstance(items[-1], Frame)


def test_coban_edge_cases() -> None:
    decoder = CobanDecoder()
    items = decoder.feed(
        b";;##,imei:,A;"
        b"35971004555947x;"
        b"359710045559474imei:359710045559474,T:25,240730235807,,F,235807.000,A,5443.3834,N,02512.9071,E,0.00,0;"
        b"imei:ABC,tracker;"
        b"imei:359710045559474,oil 12,240731000000,,F,235807.000,A,N,5443.3834,E,02512.9071,0,0;"
        b"imei:359710045559474,tracker,24073,,F,235807.000,A,5443.3834,N,02512.9071,E;"
        b"imei:359710045559474,tracker,240730235807,,F,235807.000,X,5443.3834,N;"
        b"imei:359710045559474,tracker,240730235807,,F,235807.000,A,5443.3834,N;"
        b"hello;"
    )
    kinds = [type(i).__name__ for i in items]
    assert kinds == [
        "FieldError",
        "FrameError",
        "Frame",
        "FieldError",
        "Frame",
        "FieldError",
        "FieldError",
        "FrameError",
        "GarbageError",
    ]
    temperature = items[2]
    assert isinstance(temperature, Frame)
    assert temperature.reply == b"ON"  # the IMEI prefix is a heartbeat
    assert temperature.positions[0].alarm == "temperature"
    fuel = items[4]
    assert isinstance(fuel, Frame)
    pos = fuel.positions[0]
    assert pos.alarm == "fuel_leak"
    assert pos.fix_time == datetime(
        2024, 7, 30, 23, 58, 7, tzinfo=UTC
    )  # local date is the next day


def test_h02_edge_cases() -> None:
    assert [_battery_percent(v) for v in (0, 2, 5, 80, 0xF3, 200)] == [
        None,
        10.0,
        80.0,
        80.0,
        3.0,
        None,
    ]
    with pytest.raises(ValueError, match="binary_length"):
        H02Decoder(binary_length=40)
    decoder = H02Decoder()
    beat = only(decoder.feed(b"*HQ,4210051415,V0,3#"))
    assert isinstance(beat, Frame)
    assert isinstance(beat.messages[0], Heartbeat)
    assert beat.messages[0].battery_percent == 20.0
    for text, error in (
        (b"*HQ,4210051415,V4,S20,DONE#", UnsupportedMessage),
        (b"*HQ,4210051415,V1,1645,A,0956.3869,N,08406.7068,W,0,0,221215,FFFFFBFF#", FieldError),
        (b"*HQ,4210051415,V1,164549,A,0956.3869,X,08406.7068,W,0,0,221215,FFFFFBFF#", FieldError),
        (b"*HQ,4210051415,V1,164549,A#", FrameError),
        (b"*HQ,4109179024,NBR,103732,722,310#", FrameError),
        (b"*HQ,4109179024,NBR,103732,722,310,0,3,8106,32010,23,100217,FFFFFBFF#", FrameError),
        (b"*HQ,4109179024,NBR,1037,722,310,0,1,8106,32010,23,100217,FFFFFBFF#", FieldError),
    ):
        item = only(H02Decoder().feed(text))
        assert isinstance(item, error), (text, item)
    # binary frames with non-BCD fields
    for offset, value in ((12, 0xAA), (13, 0x75), (17, 0xAA), (22, 0xAB)):
        data = bytearray(h02_binary(length=32))
        data[offset] = value
        err = only(H02Decoder().decode_datagram(bytes(data)))
        assert isinstance(err, FieldError), (offset, err)
    # an X frame and an undecidable binary length
    err = only(H02Decoder().feed(b"X" + bytes(31)))
    assert isinstance(err, UnsupportedMessage)
    decoder = H02Decoder()
    items = decoder.feed(h02_binary(length=45)[:40])
    assert items == []
    assert decoder.buffered == 40
    items = decoder.feed(b"\x00" * 10)
    assert isinstance(items[0], Frame)


def test_osmand_edge_cases() -> None:
    pos = parse_query("id=1&lat=1&lon=2&timestamp=2024-01-01T10:00:00&odometer=1500&mock=1")
    assert isinstance(pos, Position)
    assert pos.fix_time == datetime(2024, 1, 1, 10, tzinfo=UTC)  # ISO without zone: UTC
    assert pos.odometer_m == 1500
    with pytest.raises(FrameError, match="malformed query"):
        parse_query("&".join(f"k{i}=1" for i in range(600)) + "&id=1")
    (report,) = parse_request(
        body=b'{"device_id": "x", "location": {"timestamp": "2025-01-01T00:00:00Z", "mock": true}}'
    )
    assert isinstance(report, StatusReport)
    assert report.io["mock"] is True


def test_serialise_garbage_and_unsupported() -> None:
    garbage, frame = TeltonikaDecoder().feed(b"zz\x00\x0f" + b"356307042441013")
    assert item_to_dict(garbage)["skipped"] == 2
    assert isinstance(garbage, GarbageError)
    assert item_to_dict(frame)["messages"][0]["message"] == "login"
    err = only(_gt06(gt06_frame(0x8C, b"")))
    out = item_to_dict(err)
    assert out["message_type"] == "0x8C"
    assert out["reply"] == gt06_frame(0x8C, b"").hex()
    pos = Position(
        protocol="x",
        device_id="1",
        fix_time=datetime(2024, 1, 1, tzinfo=UTC),
        latitude=0,
        longitude=0,
        valid=True,
        hdop=float("nan"),
    )
    assert (
        item_to_dict(Frame(protocol="x", kind="k", device_id="1", messages=(pos,), raw=b""))[
            "messages"
        ][0]["hdop"]
        is None
    )
