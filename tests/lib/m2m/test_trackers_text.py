"""TK103, Coban/GPS103 and H02 frames built from the vendor descriptions, round-tripped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.thingbridge.m2m.trackers import (
    Alarm,
    CobanDecoder,
    FieldError,
    Frame,
    FrameError,
    GarbageError,
    H02Decoder,
    Heartbeat,
    Login,
    Position,
    ProtocolError,
    StatusReport,
    Tk103Decoder,
    UnsupportedMessage,
)
from custom_components.thingbridge.m2m.trackers.model import KNOTS_TO_KMH

T0 = datetime(2024, 7, 30, 23, 58, 7, tzinfo=UTC)
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def ddmm(value: float, deg_digits: int, decimals: int = 4) -> str:
    """Degrees → NMEA ``d…dmm.mmmm`` without the hemisphere."""
    value = abs(value)
    degrees = int(value)
    minutes = (value - degrees) * 60
    return f"{degrees:0{deg_digits}d}{minutes:0{3 + decimals}.{decimals}f}"


def only(items: list[Frame | ProtocolError]) -> Frame:
    assert len(items) == 1, items
    assert isinstance(items[0], Frame), items[0]
    return items[0]


# --- TK103 -------------------------------------------------------------------------------


def tk103_fixed(
    device_id: str = "013612345678",
    command: str = "BR00",
    *,
    when: datetime = T0,
    valid: bool = True,
    lat: float = -25.922551,
    lon: float = 28.922215,
    speed: float = 4.7,
    course: float = 276.17,
    io: str = "01000000",
    mileage: int = 0x9AA3,
    prefix: str = "",
) -> bytes:
    body = (
        prefix
        + when.strftime("%y%m%d")
        + ("A" if valid else "V")
        + ddmm(lat, 2) + ("N" if lat >= 0 else "S")
        + ddmm(lon, 3) + ("E" if lon >= 0 else "W")
        + f"{speed:05.1f}"
        + when.strftime("%H%M%S")
        + f"{course:06.2f}"
        + io
        + f"L{mileage:08X}"
    )  # fmt: skip
    return f"({device_id}{command}{body})".encode()


def test_tk103_fixed_position_roundtrip() -> None:
    out = only(Tk103Decoder().feed(tk103_fixed()))
    assert out.kind == "BR00"
    assert out.reply is None
    (pos,) = out.positions
    assert pos.device_id == "013612345678"
    assert pos.fix_time == T0
    assert pos.latitude == pytest.approx(-25.922551, abs=1e-5)
    assert pos.longitude == pytest.approx(28.922215, abs=1e-5)
    assert pos.speed_kmh == pytest.approx(4.7)
    assert pos.course_deg == pytest.approx(276.17)
    assert pos.valid is True
    assert pos.ignition is True
    assert pos.charging is True
    assert pos.odometer_m == 0x9AA3


def test_tk103_login_bp05_and_handshake_bp00() -> None:
    login = tk103_fixed(
        command="BP05",
        prefix="354188048003342",
        lat=13.883,
        lon=100.51508,
        valid=False,
        io="00010000",
    )
    out = only(Tk103Decoder().feed(login))
    assert out.reply == b"(013612345678AP05)"
    assert out.reject_reply is None  # an unregistered device gets nothing
    first, pos = out.messages
    assert isinstance(first, Login)
    assert first.imei == "354188048003342"
    assert isinstance(pos, Position)
    assert pos.valid is False
    assert pos.ignition is False
    out = only(Tk103Decoder().feed(b"(013612345678BP00013612345678HSO)"))
    assert out.reply == b"(013612345678AP01HSO)"
    assert out.reject_reply is None  # an unregistered device gets nothing
    assert isinstance(out.messages[0], Heartbeat)


def test_tk103_comma_form_uses_ddmmyy() -> None:
    text = b"(864768010869060,BP05,300724,A,5135.8271N,00001.1791W,12.5,235807,90.5)"
    out = only(Tk103Decoder().feed(text))
    assert out.reply == b"(864768010869060AP05)"
    pos = out.positions[0]
    assert pos.fix_time == T0
    assert pos.longitude == pytest.approx(-1.1791 / 60, abs=1e-6)
    assert pos.speed_kmh == 12.5


@pytest.mark.parametrize(
    ("command", "alarm"),
    [("BO012", "sos"), ("BO015", "overspeed"), ("ZC13", "power_cut"), ("ZC25", "sos")],
)
def test_tk103_alarm_commands(command: str, alarm: str) -> None:
    text = tk103_fixed(command=command[:4], prefix=command[4:])
    (pos,) = only(Tk103Decoder().feed(text)).positions
    assert pos.alarm == alarm


def test_tk103_alarm_without_position_and_battery_report() -> None:
    out = only(Tk103Decoder().feed(b"(013612345678ZC13)"))
    assert isinstance(out.messages[0], Alarm)
    assert out.messages[0].alarm == "power_cut"
    out = only(Tk103Decoder().feed(b"(013612345678,ZC20,300724,235807,5,398,124,1)"))
    (report,) = out.messages
    assert isinstance(report, StatusReport)
    assert (report.battery_percent, report.battery_v, report.external_voltage_v) == (80, 3.98, 12.4)
    assert report.time == T0


def test_tk103_free_text_may_contain_a_parenthesis_and_errors() -> None:
    decoder = Tk103Decoder()
    items = decoder.feed(b"junk(013612345678BV01$text with ) inside$)" + tk103_fixed())
    assert isinstance(items[0], GarbageError)
    assert isinstance(items[1], UnsupportedMessage)
    assert items[1].raw.endswith(b"inside$)")
    assert isinstance(items[2], Frame)
    (err,) = Tk103Decoder().feed(tk103_fixed(when=T0).replace(b"240730", b"241330"))
    assert isinstance(err, FieldError)


def test_tk103_segmentation_and_overlong_frame() -> None:
    stream = tk103_fixed() + b"\r\n" + b"(013612345678BP00HSO)" + tk103_fixed(command="BP05")
    whole = Tk103Decoder().feed(stream)
    decoder = Tk103Decoder()
    split = [item for byte in stream for item in decoder.feed(bytes((byte,)))]
    assert split == whole
    assert [f.kind for f in whole if isinstance(f, Frame)] == ["BR00", "BP00", "BP05"]
    decoder = Tk103Decoder(max_frame=64)
    items = decoder.feed(b"(" + b"1" * 100)
    assert isinstance(items[0], FrameError)
    assert decoder.buffered == 0


# --- Coban / GPS103 ----------------------------------------------------------------------


def coban(
    imei: str = "359710045559474",
    keyword: str = "tracker",
    *,
    when: datetime = T0,
    utc_offset: timedelta = timedelta(hours=3),
    valid: bool = True,
    lat: float = 54.723056,
    lon: float = -25.215118,
    speed_knots: float = 10.5,
    course: float = 113.3,
    tail: str = "",
) -> bytes:
    local = when + utc_offset
    text = (
        f"imei:{imei},{keyword},{local:%y%m%d%H%M%S},,F,{when:%H%M%S}.000,{'A' if valid else 'V'},"
        f"{ddmm(lat, 2)},{'N' if lat >= 0 else 'S'},{ddmm(lon, 3)},{'E' if lon >= 0 else 'W'},"
        f"{speed_knots:.2f},{course:.2f}{tail};"
    )
    return text.encode()


@pytest.mark.parametrize("offset_hours", [-11, -5, 0, 3, 5.5, 12])
def test_coban_position_utc_date_from_local_time(offset_hours: float) -> None:
    out = only(CobanDecoder().feed(coban(utc_offset=timedelta(hours=offset_hours))))
    (pos,) = out.positions
    assert pos.fix_time == T0
    assert pos.latitude == pytest.approx(54.723056, abs=1e-5)
    assert pos.longitude == pytest.approx(-25.215118, abs=1e-5)
    assert pos.speed_kmh == pytest.approx(10.5 * KNOTS_TO_KMH)
    assert pos.course_deg == pytest.approx(113.3)
    assert pos.event == "tracker"


def test_coban_logon_heartbeat_and_sos_replies() -> None:
    decoder = CobanDecoder()
    logon, beat, sos = decoder.feed(
        b"##,imei:359710045559474,A;359710045559474;" + coban(keyword="help me")
    )
    assert isinstance(logon, Frame)
    assert logon.reply == b"LOAD"
    assert logon.reject_reply is None  # an unregistered device gets nothing
    assert isinstance(logon.messages[0], Login)
    assert isinstance(beat, Frame)
    assert beat.reply == b"ON"
    assert beat.reject_reply is None  # an unregistered device gets nothing
    assert isinstance(sos, Frame)
    assert sos.reply == b"**,imei:359710045559474,E;"
    assert sos.positions[0].alarm == "sos"


def test_coban_acc_fields_and_no_gps_report() -> None:
    (pos,) = only(
        CobanDecoder().feed(coban(keyword="acc on", tail=",120.5,1,0,45.5%,,25"))
    ).positions
    assert pos.ignition is True
    assert pos.altitude_m == 120.5
    assert pos.io["fuel1"] == "45.5%"
    out = only(
        CobanDecoder().feed(b"imei:359710045559474,ac alarm,240730235807,,L,,,1a2b,,3c4d,,,;")
    )
    (alarm,) = out.messages
    assert isinstance(alarm, Alarm)
    assert alarm.alarm == "power_cut"
    assert (alarm.io["lac"], alarm.io["cell_id"]) == (0x1A2B, 0x3C4D)


def test_coban_errors_and_segmentation() -> None:
    (err,) = CobanDecoder().feed(b"imei:359710045559474,tracker,2407302358,,F,xx,A,1,N,2,E,0,0;")
    assert isinstance(err, FieldError)
    (err,) = CobanDecoder().feed(b"imei:359710045559474,OBD,240730235807,1,2,3;")
    assert isinstance(err, UnsupportedMessage)
    stream = (
        b"##,imei:359710045559474,A;" + coban() + b"\r\n359710045559474;" + coban(keyword="speed")
    )
    whole = CobanDecoder().feed(stream)
    decoder = CobanDecoder()
    split = [item for byte in stream for item in decoder.feed(bytes((byte,)))]
    assert split == whole
    assert [f.kind for f in whole if isinstance(f, Frame)] == [
        "logon",
        "tracker",
        "heartbeat",
        "speed",
    ]


# --- H02 ---------------------------------------------------------------------------------


def h02_text(
    kind: str = "V1",
    device_id: str = "4210051415",
    *,
    when: datetime = T0,
    lat: float = 9.939781,
    lon: float = -84.11178,
    speed_knots: float = 12.3,
    course: int = 45,
    status: int = 0xFFFFFBFF,
    validity: str = "A",
    tail: str = "",
) -> bytes:
    return (
        f"*HQ,{device_id},{kind},{when:%H%M%S},{validity},{ddmm(lat, 2)},{'N' if lat >= 0 else 'S'},"
        f"{ddmm(lon, 3)},{'E' if lon >= 0 else 'W'},{speed_knots:06.2f},{course:03d},{when:%d%m%y},{status:08X}{tail}#"
    ).encode()


def bcd(digits: str) -> bytes:
    return bytes.fromhex(digits)


def h02_binary(
    device_id: str = "4106000826",
    *,
    when: datetime = T0,
    lat: float = 4.698983,
    lon: float = -74.069716,
    valid: bool = True,
    speed_knots: int = 23,
    course: int = 271,
    status: int = 0xFFFFFBFD,
    battery: int = 6,
    length: int = 45,
) -> bytes:
    def mins(value: float, deg_digits: int) -> str:
        value = abs(value)
        return f"{int(value):0{deg_digits}d}{round((value - int(value)) * 600000):06d}"

    flags = (0x02 if valid else 0) | (0x04 if lat >= 0 else 0) | (0x08 if lon >= 0 else 0)
    out = (
        b"$"
        + bcd(device_id)
        + bcd(when.strftime("%H%M%S%d%m%y"))
        + bcd(mins(lat, 2))
        + bytes((battery,))
    )
    out += (
        bcd(mins(lon, 3) + f"{flags:x}")
        + bcd(f"{speed_knots:03d}{course:03d}")
        + status.to_bytes(4, "big")
    )
    return out + b"\x00" * (length - len(out))


def test_h02_v1_roundtrip_and_reply() -> None:
    out = only(H02Decoder(clock=lambda: NOW).feed(h02_text()))
    assert out.reply == b"*HQ,4210051415,V4,V1,20250102030405#"
    (pos,) = out.positions
    assert pos.fix_time == T0
    assert pos.latitude == pytest.approx(9.939781, abs=1e-5)
    assert pos.longitude == pytest.approx(-84.11178, abs=1e-5)
    assert pos.speed_kmh == pytest.approx(12.3 * KNOTS_TO_KMH)
    assert pos.course_deg == 45
    assert pos.valid is True
    assert pos.ignition is False  # bit 10 clear in FFFFFBFF
    assert pos.alarm is None
    assert pos.io["status"] == 0xFFFFFBFF


@pytest.mark.parametrize(
    ("status", "alarm", "ignition"),
    [
        (0xFFFFFFFE, "vibration", True),
        (0xFFFFFFFD, "sos", True),
        (0xFFFBFFFF, "sos", True),
        (0xFFFFFFFB, "overspeed", True),
        (0xFFF7FBFF, "power_cut", False),
    ],
)
def test_h02_status_bits(status: int, alarm: str, ignition: bool) -> None:
    (pos,) = only(H02Decoder().feed(h02_text(kind="V8", status=status))).positions
    assert pos.alarm == alarm
    assert pos.ignition is ignition


def test_h02_coordinate_variants_and_battery_field() -> None:
    text = b"*HQ,1451316409,V1,030149,A,-23-29.0095,S,-46-51.5852,W,2.4,065,070315,FFFFFFFF#"
    (pos,) = only(H02Decoder().feed(text)).positions
    assert (pos.latitude, pos.longitude) == pytest.approx((-23.483492, -46.859753), abs=1e-5)
    text = b"*HQ,1451316409,V1,030149,V,22353524,N,113424612,E,000.00,000,80,070315,FFFFFFFF#"
    (pos,) = only(H02Decoder().feed(text)).positions
    assert pos.latitude == pytest.approx(22 + 35.3524 / 60, abs=1e-6)
    assert pos.longitude == pytest.approx(113 + 42.4612 / 60, abs=1e-6)
    assert pos.valid is False
    assert pos.io["battery"] == 80


def test_h02_heartbeat_nbr_and_command_answer() -> None:
    decoder = H02Decoder(clock=lambda: NOW)
    beat, nbr, answer, other = decoder.feed(
        b"*HQ,4210051415,V0#\r\n*HQ,4210051415,NBR,103732,722,310,0,2,8106,32010,23,8101,22007,25,300724,FFFFFBFF#"
        + h02_text(kind="V4", tail="").replace(b",V4,", b",V4,S20,OK,")
        + b"*HQ,4210051415,V3,1,2,3#"
    )
    assert isinstance(beat, Frame)
    assert beat.reply == b"*HQ,4210051415,V0#"
    assert beat.reject_reply is None  # an unregistered device gets nothing
    assert isinstance(nbr, Frame)
    assert nbr.reply == b"*HQ,4210051415,V4,NBR,20250102030405#"
    report = nbr.messages[0]
    assert isinstance(report, StatusReport)
    assert report.io["cells"] == "8106,32010,23;8101,22007,25"
    assert isinstance(answer, Frame)
    assert answer.positions[0].fix_time == T0
    assert answer.reply is None
    assert isinstance(other, UnsupportedMessage)


def test_h02_ack_option_answers_other_positions() -> None:
    out = only(H02Decoder(ack=True, clock=lambda: NOW).feed(h02_text(kind="V8")))
    assert out.reply == b"*HQ,4210051415,R12,030405#"


@pytest.mark.parametrize("length", [32, 45])
def test_h02_binary_roundtrip(length: int) -> None:
    out = only(H02Decoder().decode_datagram(h02_binary(length=length)))
    (pos,) = out.positions
    assert pos.device_id == "4106000826"
    assert pos.fix_time == T0
    assert pos.latitude == pytest.approx(4.698983, abs=1e-5)
    assert pos.longitude == pytest.approx(-74.069716, abs=1e-5)
    assert pos.speed_kmh == pytest.approx(23 * KNOTS_TO_KMH)
    assert pos.course_deg == 271
    assert pos.valid is True
    assert pos.alarm == "sos"  # bit 1 clear in FFFFFBFD
    assert pos.battery_percent == 100


def test_h02_binary_length_detected_from_the_next_frame_and_kept() -> None:
    stream = h02_binary(length=45) + h02_binary(length=45, course=12) + h02_text()
    decoder = H02Decoder()
    items = decoder.feed(stream)
    assert [i.kind for i in items if isinstance(i, Frame)] == ["binary", "binary", "V1"]
    assert decoder.binary_length == 45
    split = [item for byte in h02_binary(course=99) for item in decoder.feed(bytes((byte,)))]
    assert only(split).positions[0].course_deg == 99
    decoder = H02Decoder()
    items = decoder.feed(
        h02_binary(length=32) + b"\r\n" + h02_binary(length=32, course=7) + b"\r\n"
    )
    assert [p.course_deg for i in items if isinstance(i, Frame) for p in i.positions] == [271, 7]
    assert decoder.binary_length == 32
    decoder = H02Decoder(binary_length=32)
    items = [
        item for byte in h02_binary(length=32) + h02_text() for item in decoder.feed(bytes((byte,)))
    ]
    assert [i.kind for i in items if isinstance(i, Frame)] == ["binary", "V1"]


def test_h02_garbage_errors_and_segmentation() -> None:
    stream = b"\x00\x01noise" + h02_text() + b"\r\n" + h02_text(kind="V8", lat=-1.5)
    whole = H02Decoder(clock=lambda: NOW).feed(stream)
    assert isinstance(whole[0], GarbageError)
    decoder = H02Decoder(clock=lambda: NOW)
    split = [item for byte in stream for item in decoder.feed(bytes((byte,)))]
    # byte by byte, garbage is reported as it arrives; the frames and the byte count match
    assert [i for i in split if isinstance(i, Frame)] == [i for i in whole if isinstance(i, Frame)]
    assert sum(i.skipped for i in split if isinstance(i, GarbageError)) == 6 == whole[0].skipped
    (err,) = H02Decoder().feed(
        b"*HQ,4210051415,V1,164549,A,0956.3869,N,08406.7068,W,000.00,000,321215,FFFFFBFF#"
    )
    assert isinstance(err, FieldError)
    assert err.device_id == "4210051415"
    (err,) = H02Decoder().feed(
        b"*HQ,4210051415,V1,164549,A,9956.3869,N,08406.7068,W,000.00,000,221215,FFFFFBFF#"
    )
    assert isinstance(err, FieldError)
    assert err.field == "latitude"


def test_vendor_manual_examples() -> None:
    """Examples as printed in the TK103 and Coban protocol documents."""
    decoder = Tk103Decoder()
    login, beat, data = decoder.feed(
        b"(013612345678BP05000013612345678080612A2232.9828N11404.9297E000.0022828000.0000000000L000230AA)"
        b"(013612345678BP00000013612345678HSO)"
        b"(013612345678BR00080612A2232.9828N11404.9297E000.0022828000.0000000000L000230AA)"
    )
    assert isinstance(login, Frame)
    assert login.reply == b"(013612345678AP05)"
    assert isinstance(login.messages[0], Login)
    assert login.messages[0].imei == "000013612345678"
    assert isinstance(beat, Frame)
    assert beat.reply == b"(013612345678AP01HSO)"
    assert isinstance(data, Frame)
    (pos,) = data.positions
    assert pos.fix_time == datetime(2008, 6, 12, 2, 28, 28, tzinfo=UTC)
    assert pos.latitude == pytest.approx(22 + 32.9828 / 60, abs=1e-6)
    assert pos.longitude == pytest.approx(114 + 4.9297 / 60, abs=1e-6)
    assert pos.odometer_m == 0x230AA
    text = b"imei:359586015829802,tracker,0809231929,13554900601,F,112909.397,A,2234.4669,N,11354.3287,E,0.11,;"
    (pos,) = only(CobanDecoder().feed(text)).positions
    assert pos.fix_time == datetime(2008, 9, 23, 11, 29, 9, 397000, tzinfo=UTC)
    assert pos.speed_kmh == pytest.approx(0.11 * KNOTS_TO_KMH)
    assert pos.course_deg is None
    assert pos.io["phone_or_rfid"] == "13554900601"
