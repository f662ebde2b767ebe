"""GT06/Concox frames built from the vendor specification, round-tripped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from custom_components.thingbridge.m2m.trackers import (
    Alarm,
    ChecksumError,
    CommandResponse,
    Frame,
    FrameError,
    GarbageError,
    Gt06Decoder,
    Heartbeat,
    Login,
    NotIdentifiedError,
    ProtocolError,
    StatusReport,
    UnsupportedMessage,
    crc16_x25,
)
from custom_components.thingbridge.m2m.trackers.gt06 import build_command, build_reply

IMEI = "868120145233604"
T0 = datetime(2024, 3, 9, 14, 5, 33, tzinfo=UTC)


def spec_crc_itu(data: bytes) -> int:
    """CRC-ITU as in the Concox manual's appendix (bitwise, reflected 0x8408)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def frame(
    number: int, content: bytes, serial: int = 1, *, extended: bool = False, crc: int | None = None
) -> bytes:
    length = 5 + len(content)
    body = (
        (length.to_bytes(2, "big") if extended else bytes((length,)))
        + bytes((number,))
        + content
        + serial.to_bytes(2, "big")
    )
    value = spec_crc_itu(body) if crc is None else crc
    return (b"\x79\x79" if extended else b"\x78\x78") + body + value.to_bytes(2, "big") + b"\r\n"


def login(
    imei: str = IMEI, serial: int = 1, *, type_code: int | None = None, tz_word: int | None = None
) -> bytes:
    content = bytes.fromhex("0" + imei)
    if type_code is not None:
        content += type_code.to_bytes(2, "big")
    if tz_word is not None:
        content += tz_word.to_bytes(2, "big")
    return frame(0x01, content, serial)


def gps(
    when: datetime = T0,
    *,
    sats: int = 8,
    lat: float = 22.546789,
    lon: float = 114.051234,
    speed: int = 42,
    course: int = 185,
    positioned: bool = True,
    acc: bool | None = None,
) -> bytes:
    flags = course & 0x3FF
    flags |= (1 << 10) if lat >= 0 else 0  # north
    flags |= (1 << 11) if lon < 0 else 0  # west
    flags |= (1 << 12) if positioned else 0
    if acc is not None:
        flags |= (1 << 14) | ((1 << 15) if acc else 0)
    stamp = bytes((when.year - 2000, when.month, when.day, when.hour, when.minute, when.second))
    return (
        stamp
        + bytes((0xC0 | sats,))
        + round(abs(lat) * 1_800_000).to_bytes(4, "big")
        + round(abs(lon) * 1_800_000).to_bytes(4, "big")
        + bytes((speed,))
        + flags.to_bytes(2, "big")
    )


LBS = (
    bytes.fromhex("01CC") + b"\x00" + bytes.fromhex("28 7D") + bytes.fromhex("00 1F B8")
)  # MCC 460, MNC 0


def status(
    info: int = 0x46, voltage: int = 4, gsm: int = 3, alarm: int = 0, language: int = 2
) -> bytes:
    return bytes((info, voltage, gsm, alarm, language))


def decode(data: bytes, **kwargs: object) -> list[Frame | ProtocolError]:
    decoder = Gt06Decoder(**kwargs)  # type: ignore[arg-type]
    return decoder.feed(login() + data)[1:]


def only_frame(items: list[Frame | ProtocolError]) -> Frame:
    assert len(items) == 1, items
    (item,) = items
    assert isinstance(item, Frame), item
    return item


def test_crc_check_value_and_reference_replies() -> None:
    assert crc16_x25(b"123456789") == 0x906E == spec_crc_itu(b"123456789")
    assert build_reply(0x01, 1).hex().upper() == "787805010001D9DC0D0A"
    assert build_reply(0x12, 1).hex().upper() == "787805120001B32D0D0A"
    assert build_reply(0x13, 1).hex().upper() == "787805130001E9F10D0A"
    assert build_reply(0x13, 0x11).hex().upper() == "787805130011F9700D0A"


def test_login_reply_echoes_serial_with_recomputed_crc() -> None:
    decoder = Gt06Decoder()
    out = only_frame(decoder.feed(login(serial=0x0A0B, type_code=0x3608, tz_word=(800 << 4))))
    (message,) = out.messages
    assert isinstance(message, Login)
    assert message.device_id == IMEI == decoder.device_id
    assert message.model_code == 0x3608
    assert message.utc_offset_s == 8 * 3600
    assert out.reply == frame(0x01, b"", 0x0A0B)
    assert out.reject_reply is None


def test_login_timezone_west_and_applied() -> None:
    decoder = Gt06Decoder(apply_login_timezone=True)
    (item,) = decoder.feed(login(type_code=0x0100, tz_word=(530 << 4) | 0x08))
    assert isinstance(item, Frame)
    assert item.messages[0].utc_offset_s == -(5 * 3600 + 30 * 60)  # type: ignore[union-attr]
    out = only_frame(decoder.feed(frame(0x12, gps() + LBS)))
    assert out.positions[0].fix_time == datetime(2024, 3, 9, 19, 35, 33, tzinfo=UTC)


def test_gps_lbs_0x12_roundtrip() -> None:
    out = only_frame(
        decode(frame(0x12, gps(lat=-33.868820, lon=-151.209296, course=359) + LBS, serial=0x0203))
    )
    assert out.kind == "0x12"
    assert out.reply == frame(0x12, b"", 0x0203)
    (pos,) = out.positions
    assert pos.device_id == IMEI
    assert pos.fix_time == T0
    assert pos.latitude == pytest.approx(-33.868820, abs=1e-6)
    assert pos.longitude == pytest.approx(-151.209296, abs=1e-6)
    assert (pos.speed_kmh, pos.course_deg, pos.satellites, pos.valid) == (42, 359, 8, True)
    assert pos.ignition is None
    assert (pos.io["mcc"], pos.io["mnc"], pos.io["lac"], pos.io["cell_id"]) == (
        460,
        0,
        0x287D,
        0x1FB8,
    )


def test_course_status_acc_bit_and_unpositioned() -> None:
    (pos,) = only_frame(decode(frame(0x12, gps(positioned=False, acc=True) + LBS))).positions
    assert pos.valid is False
    assert pos.ignition is True
    (pos,) = only_frame(decode(frame(0x10, gps(acc=False)))).positions
    assert pos.ignition is False
    assert "mcc" not in pos.io


def test_0x22_acc_reupload_and_mileage() -> None:
    content = gps() + LBS + bytes((1, 0x02, 1)) + (987654).to_bytes(4, "big")
    (pos,) = only_frame(decode(frame(0x22, content))).positions
    assert pos.ignition is True
    assert pos.archive is True
    assert pos.odometer_m == 987654
    assert pos.io["upload_mode"] == 2


def test_0xa0_4g_cell() -> None:
    cell = (
        bytes.fromhex("01CC 00")
        + (0x12345678).to_bytes(4, "big")
        + (0x0102030405060708).to_bytes(8, "big")
    )
    (pos,) = only_frame(decode(frame(0xA0, gps() + cell + bytes((0, 0, 0))))).positions
    assert pos.io["lac"] == 0x12345678
    assert pos.io["cell_id"] == 0x0102030405060708
    assert pos.archive is False


def test_0x11_two_byte_mnc() -> None:
    cell = bytes.fromhex("0136 0104 81FE") + (0x066D9B03).to_bytes(4, "big")
    (pos,) = only_frame(decode(frame(0x11, gps() + cell))).positions
    assert (pos.io["mcc"], pos.io["mnc"], pos.io["lac"], pos.io["cell_id"]) == (
        310,
        260,
        0x81FE,
        0x066D9B03,
    )


@pytest.mark.parametrize(
    ("number", "info", "alarm_byte", "expected_alarm"),
    [
        (0x16, 0x46, 0x01, "sos"),
        (0x16, 0x46 | (2 << 3), 0x00, "power_cut"),
        (0x26, 0x06, 0x05, "geofence_exit"),
        (0x16, 0x06, 0x00, None),
    ],
)
def test_status_alarm_packets(
    number: int, info: int, alarm_byte: int, expected_alarm: str | None
) -> None:
    content = gps() + bytes((len(LBS) + 1,)) + LBS + status(info=info, alarm=alarm_byte)
    out = only_frame(decode(frame(number, content, serial=77)))
    assert out.reply == frame(number, b"", 77)
    (pos,) = out.positions
    assert pos.alarm == expected_alarm
    assert pos.ignition is True  # terminal info bit 1 (ACC)
    assert pos.charging is True  # bit 2
    assert pos.battery_percent == 66  # voltage level 4 of 6
    assert pos.gsm_signal == 3


def test_status_heartbeat_0x13() -> None:
    out = only_frame(decode(frame(0x13, status(info=0x44, voltage=6, gsm=4), serial=0x0164)))
    assert out.reply == frame(0x13, b"", 0x0164)
    (beat,) = out.messages
    assert isinstance(beat, Heartbeat)
    assert (beat.ignition, beat.charging, beat.battery_percent, beat.gsm_signal, beat.alarm) == (
        False,
        True,
        100,
        4,
        None,
    )


def test_heartbeat_0x23() -> None:
    out = only_frame(decode(frame(0x23, bytes((0x02,)) + (412).to_bytes(2, "big") + bytes((3,)))))
    (beat,) = out.messages
    assert isinstance(beat, Heartbeat)
    assert beat.ignition is True
    assert beat.battery_v == pytest.approx(4.12)
    assert out.reply is not None


def test_lbs_alarm_without_gps_0x19() -> None:
    out = only_frame(decode(frame(0x19, LBS + status(info=0x06 | (4 << 3)))))
    (alarm,) = out.messages
    assert isinstance(alarm, Alarm)
    assert alarm.alarm == "sos"
    assert alarm.io["mcc"] == 460


def test_info_0x94_extended_external_voltage_without_reply() -> None:
    out = only_frame(decode(frame(0x94, b"\x00" + (1234).to_bytes(2, "big"), extended=True)))
    (report,) = out.messages
    assert isinstance(report, StatusReport)
    assert report.external_voltage_v == pytest.approx(12.34)
    assert out.reply is None


def test_command_response_0x15() -> None:
    text = b"Relay,1#OK"
    content = bytes((4 + len(text),)) + b"\x00\x00\x00\x01" + text + b"\x00\x02"
    out = only_frame(decode(frame(0x15, content)))
    (response,) = out.messages
    assert isinstance(response, CommandResponse)
    assert response.text == "Relay,1#OK"
    command = bytes((12,)) + b"\x00\x00\x00\x00" + b"Relay,1#" + b"\x00\x02"
    assert build_command("Relay,1#", serial=1) == frame(0x80, command, 1)


def test_time_request_is_answered_with_the_clock() -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    decoder = Gt06Decoder(clock=lambda: now)
    (item,) = decoder.feed(frame(0x8A, b"", serial=9))
    assert isinstance(item, Frame)
    assert item.reply == frame(0x8A, bytes((30, 1, 2, 3, 4, 5)), 9)


def test_unknown_types_are_unsupported_with_the_standard_ack() -> None:
    (err,) = decode(frame(0x8C, b"\x01\x02", serial=5))
    assert isinstance(err, UnsupportedMessage)
    assert err.message_type == "0x8C"
    assert err.reply == frame(0x8C, b"", 5)
    (err,) = decode(frame(0x8C, b"\x01\x02", extended=True))
    assert isinstance(err, UnsupportedMessage)
    assert err.reply is None


def test_data_before_login_is_not_identified() -> None:
    (err,) = Gt06Decoder().feed(frame(0x12, gps() + LBS))
    assert isinstance(err, NotIdentifiedError)


def test_bad_crc_strict_and_lenient() -> None:
    data = frame(0x12, gps() + LBS, crc=0xBEEF)
    (err,) = decode(data)
    assert isinstance(err, ChecksumError)
    assert err.actual == 0xBEEF
    assert err.expected == spec_crc_itu(data[2:-4])
    out = only_frame(decode(data, lenient=True))
    assert out.checksum_ok is False
    assert out.positions[0].checksum_ok is False


def test_wrong_stop_bytes_strict_resyncs_and_lenient_cuts_at_0d0a() -> None:
    bad = bytearray(frame(0x13, status()))
    bad[-2:] = b"\x00\x00"
    good = frame(0x13, status(), serial=2)
    items = decode(bytes(bad) + good)
    assert isinstance(items[0], FrameError)
    assert isinstance(items[-1], Frame)
    assert items[-1].reply == frame(0x13, b"", 2)
    # a length byte one too small: lenient mode finds the real end
    short = bytearray(frame(0x13, status(), serial=3))
    short[2] -= 1
    items = decode(bytes(short), lenient=True)
    assert isinstance(items[-1], Frame)
    assert items[-1].checksum_ok is False


def test_segmentation_garbage_and_line_noise() -> None:
    stream = (
        login()
        + frame(0x12, gps() + LBS, 2)
        + b"\r\n"
        + frame(0x13, status(), 3)
        + frame(0x16, gps() + bytes((9,)) + LBS + status(), 4)
    )
    whole = Gt06Decoder().feed(stream)
    assert [i.kind for i in whole if isinstance(i, Frame)] == ["login", "0x12", "0x13", "0x16"]
    assert len(whole) == 4
    decoder = Gt06Decoder()
    split: list[Frame | ProtocolError] = []
    for byte in stream:
        split += decoder.feed(bytes((byte,)))
    assert split == whole
    noisy = Gt06Decoder().feed(b"\x01\x02xyz" + stream[:30] + b"\x99" * 5 + stream[30:])
    assert isinstance(noisy[0], GarbageError)
    assert any(isinstance(i, Frame) and i.kind == "login" for i in noisy)
    assert isinstance(noisy[-1], Frame)
    assert noisy[-1].kind == "0x16"


def test_invalid_date_is_a_field_error() -> None:
    content = bytearray(gps() + LBS)
    content[1] = 13  # month 13
    (err,) = decode(frame(0x12, bytes(content)))
    assert isinstance(err, ProtocolError)
    assert "datetime" in str(err)


def test_vendor_manual_examples() -> None:
    """The login, location and status examples printed in the GT06 protocol manual."""
    decoder = Gt06Decoder()
    login_frame, location, heartbeat = decoder.feed(
        bytes.fromhex(
            "78780D01012345678901234500018CDD0D0A"
            "78781F120B081D112E10CF027AC7EB0C46584900148F01CC00287D001FB8000380810D0A"
            "78780A134004040001000FDCEE0D0A"
        )
    )
    assert isinstance(login_frame, Frame)
    assert login_frame.device_id == "123456789012345"
    assert login_frame.reply == bytes.fromhex("787805010001D9DC0D0A")
    assert isinstance(location, Frame)
    (pos,) = location.positions
    assert pos.fix_time == datetime(2011, 8, 29, 17, 46, 16, tzinfo=UTC)
    assert pos.satellites == 15
    assert pos.latitude == pytest.approx(23.111664, abs=1e-5)
    assert pos.longitude == pytest.approx(114.409285, abs=1e-5)
    assert (pos.course_deg, pos.speed_kmh, pos.valid) == (143, 0, True)
    assert location.reply == build_reply(0x12, 3)
    assert isinstance(heartbeat, Frame)
    assert heartbeat.reply == build_reply(0x13, 0x0F)
    (beat,) = heartbeat.messages
    assert isinstance(beat, Heartbeat)
    assert (beat.battery_percent, beat.gsm_signal, beat.ignition) == (66, 4, False)


def test_known_type_in_extended_header_gets_the_short_ack() -> None:
    out = only_frame(decode(frame(0x22, gps() + LBS, serial=12, extended=True)))
    assert out.reply == frame(0x22, b"", 12)


def test_cell_only_0x11_and_gps_phone_0x1a() -> None:
    (err,) = decode(frame(0x11, LBS + bytes(6), serial=4))
    assert isinstance(err, UnsupportedMessage)
    assert err.reply == frame(0x11, b"", 4)
    phone = b"13800138000".ljust(21, b"\x00")
    (pos,) = only_frame(decode(frame(0x1A, gps() + phone + b"\x00\x01"))).positions
    assert pos.io["phone"] == "13800138000"
    assert pos.latitude == pytest.approx(22.546789, abs=1e-6)
