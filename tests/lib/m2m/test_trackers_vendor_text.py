"""TK103, Coban/GPS103, H02 and OsmAnd against frames real devices and apps sent.

The frames come from Traccar's decoder tests (https://github.com/traccar/traccar,
Apache-2.0: src/test/java/org/traccar/protocol/Tk103ProtocolDecoderTest.java,
Gps103ProtocolDecoderTest.java, H02ProtocolDecoderTest.java, H02FrameDecoderTest.java and
OsmAndProtocolDecoderTest.java at 9e5c458), where users submitted them from device logs.
Times and coordinates that Traccar's tests assert are asserted here with the same values;
the others are worked out by hand from the field layouts (ddmm.mmmm → degrees, knots x
1.852, m/s x 3.6), never read back from the decoder.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from custom_components.thingbridge.m2m.trackers import (
    Alarm,
    CobanDecoder,
    CommandResponse,
    FieldError,
    Frame,
    H02Decoder,
    Heartbeat,
    Login,
    Position,
    ProtocolError,
    StatusReport,
    Tk103Decoder,
    UnsupportedMessage,
    parse_request,
)

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def frame_of(items: list[Frame | ProtocolError]) -> Frame:
    assert len(items) == 1, items
    assert isinstance(items[0], Frame), items[0]
    return items[0]


def position_of(items: list[Frame | ProtocolError]) -> Position:
    frame = frame_of(items)
    positions = frame.positions
    assert len(positions) == 1, frame
    return positions[0]


# --- TK103 (Tk103ProtocolDecoderTest.java) -----------------------------------------------


def test_tk103_fixed_form_matches_traccar() -> None:
    p = position_of(
        Tk103Decoder().feed(
            b"(088047365460BR00151024A2555.3531S02855.3329E004.7055148276.1701000000L00009AA3)"
        )
    )
    assert p.device_id == "088047365460"
    assert p.fix_time == utc(2015, 10, 24, 5, 51, 48)
    assert p.valid is True
    assert p.latitude == pytest.approx(-25.92255, abs=1e-5)
    assert p.longitude == pytest.approx(28.92222, abs=1e-5)
    assert p.speed_kmh == pytest.approx(4.7)  # TK103 speed is km/h
    assert p.course_deg == pytest.approx(276.17)
    assert p.charging is True  # first status digit 0 = charging
    assert p.ignition is True
    assert p.odometer_m == 0x9AA3


def test_tk103_comma_form_login_matches_traccar() -> None:
    frame = frame_of(
        Tk103Decoder().feed(
            b"(352606090042050,BP05,240414,A,4527.3513N,00909.9758E,4.80,112825,155.49)"
        )
    )
    assert frame.reply == b"(352606090042050AP05)"
    assert frame.reject_reply is None  # an unregistered device gets nothing
    login, p = frame.messages
    assert isinstance(login, Login)
    assert isinstance(p, Position)
    assert p.fix_time == utc(2014, 4, 24, 11, 28, 25)  # comma form: ddmmyy
    assert p.latitude == pytest.approx(45.45586, abs=1e-5)
    assert p.longitude == pytest.approx(9.16626, abs=1e-5)
    assert p.speed_kmh == pytest.approx(4.8)
    assert p.course_deg == pytest.approx(155.49)


def test_tk103_handshake_and_login_replies() -> None:
    items = Tk103Decoder().feed(
        b"(027044702512BP00027044702512HSO01A4)"
        b"(088048003342BP05354188048003342150917A1352.9801N10030.9050E000.0103115265.5600010000L000003F9)"
    )
    beat, login = items
    assert isinstance(beat, Frame)
    assert isinstance(beat.messages[0], Heartbeat)
    assert beat.reply == b"(027044702512AP01HSO)"
    assert isinstance(login, Frame)
    assert login.reply == b"(088048003342AP05)"
    message = login.messages[0]
    assert isinstance(message, Login)
    assert message.imei == "354188048003342"
    p = login.positions[0]
    assert p.fix_time == utc(2015, 9, 17, 10, 31, 15)
    assert p.latitude == pytest.approx(13 + 52.9801 / 60)
    assert p.longitude == pytest.approx(100 + 30.9050 / 60)


def test_tk103_ids_that_are_not_12_characters() -> None:
    # a 15-digit IMEI and an 11-digit ID in the fixed form: the command follows the digits
    decoder = Tk103Decoder()
    imei, short = decoder.feed(
        b"(357593060760397BP02,G,2,170304A6015.7466N01101.8460E001.609445591.048,7)"
        b"(01602009983BR00160830V1855.7022S4817.8731W000.0002729000.0010000000L00000000)"
    )
    assert isinstance(imei, Frame)
    assert (imei.device_id, imei.kind) == ("357593060760397", "BP02")
    p = imei.positions[0]
    assert p.fix_time == utc(2017, 3, 4, 9, 44, 55)
    assert p.latitude == pytest.approx(60 + 15.7466 / 60)
    assert p.longitude == pytest.approx(11 + 1.8460 / 60)
    assert p.speed_kmh == pytest.approx(1.6)
    assert isinstance(short, Frame)
    assert (short.device_id, short.kind) == ("01602009983", "BR00")
    p = short.positions[0]
    assert p.valid is False
    assert p.fix_time == utc(2016, 8, 30, 0, 27, 29)
    assert p.latitude == pytest.approx(-(18 + 55.7022 / 60))
    assert p.longitude == pytest.approx(-(48 + 17.8731 / 60))


def test_tk103_space_padded_fields() -> None:
    p = position_of(
        Tk103Decoder().feed(
            b"(027023361470BR00200617A4000.5775N 8415.4076W 46.0173725 87.3101000000L00000000)"
        )
    )
    assert p.fix_time == utc(2020, 6, 17, 17, 37, 25)
    assert p.latitude == pytest.approx(40 + 0.5775 / 60)
    assert p.longitude == pytest.approx(-(84 + 15.4076 / 60))
    assert p.speed_kmh == pytest.approx(46.0)
    assert p.course_deg == pytest.approx(87.31)


def test_tk103_cell_wifi_vin_and_command_result() -> None:
    items = Tk103Decoder().feed(
        b"(358511020000026,DW5B,310,6,29876,30393,0,041217,102211)"
        b"(864555555555555,DW51,200,1,3215,43370,2,58:F3:BB:3B:AA:82*-65*1,"
        b"1C:6A:BB:AA:81:95*-78*1,151117,154419)"
        b"(087073104337BZ00,740,000,3bf7,0425,3bf7,0bf5,3bf7,09e7,3bf7,cbad,3bf7,0dcf,3bf7,c7b2,01000000)"
        b"(027023361470BV005J6RW2H53HL066029)"
        b"(864555555555555,ZC03,191117,234207,$Notice: Device version: 1.0$)"
    )
    lbs, wifi, network, vin, result = (frame_of([item]).messages[0] for item in items)
    assert isinstance(lbs, StatusReport)
    assert lbs.time == utc(2017, 12, 4, 10, 22, 11)
    assert lbs.io == {"mcc": 310, "mnc": 6, "lac": 29876, "cell_id": 30393}
    assert isinstance(wifi, Alarm)
    assert wifi.alarm == "movement"  # DW51
    assert wifi.time == utc(2017, 11, 15, 15, 44, 19)
    assert wifi.io["wifi"] == "58:F3:BB:3B:AA:82,-65;1C:6A:BB:AA:81:95,-78"
    assert isinstance(network, StatusReport)
    assert network.io == {"mcc": 740, "mnc": 0, "lac": 0x3BF7, "cell_id": 0x0425}
    assert isinstance(vin, StatusReport)
    assert vin.io == {"vin": "5J6RW2H53HL066029"}
    assert isinstance(result, CommandResponse)
    assert result.text == "Notice: Device version: 1.0"
    assert result.time == utc(2017, 11, 19, 23, 42, 7)


def test_tk103_no_fix_record_without_a_date_keeps_its_status() -> None:
    frame = frame_of(
        Tk103Decoder().feed(
            b"(087072009461BR00000007V0000.0000N00000.0000E000.00014039900000000L00000000)"
        )
    )
    assert frame.positions == []
    assert isinstance(frame.messages[0], StatusReport)
    # a fix with an impossible date is still an error, not a guess
    item = Tk103Decoder().feed(b"(087072009461BR00001307A0000.0000N00000.0000E000.0001403)")
    assert isinstance(item[0], FieldError)


def test_tk103_udp_datagram_without_closing_parenthesis() -> None:
    items = Tk103Decoder().decode_datagram(
        b"(352606090042050,BP05,240414,A,4527.3513N,00909.9758E,4.80,112825,155.49\r\n"
    )
    frame = frame_of(items)
    assert frame.reply == b"(352606090042050AP05)"
    assert frame.positions[0].latitude == pytest.approx(45.45586, abs=1e-5)


def test_tk103_unknown_commands_do_not_desync() -> None:
    items = Tk103Decoder().feed(
        b"(027028258309BQ86,0,05550c21b10d1d0f431008bd114c0ea5078400010007a100423932,161117005322,01000001)"
        b"(007030201454BS5190:02150000753001DC,91:0EE8060EDC0A01DC)"
        b"(088047365460BR00151024A2555.3531S02855.3329E004.7055148276.1701000000L00009AA3)"
    )
    assert [type(item) for item in items] == [UnsupportedMessage, UnsupportedMessage, Frame]
    assert isinstance(items[2], Frame)
    assert items[2].positions[0].fix_time == utc(2015, 10, 24, 5, 51, 48)


# --- Coban / GPS103 (Gps103ProtocolDecoderTest.java) -------------------------------------


@pytest.mark.parametrize(
    ("text", "when", "lat", "lon"),
    [
        (
            b"imei:359710045559474,tracker,151030080103,,F,000101.000,A,5443.3834,N,02512.9071,E,0.00,0;",
            utc(2015, 10, 30, 0, 1, 1),
            54.72306,
            25.21512,
        ),
        (  # local time already on the next day: the UTC date is the day before
            b"imei:359710049092324,tracker,151027025958,,F,235957.000,A,2429.5156,N,04424.5828,E,0.01,27.91,,0,0,,,;",
            utc(2015, 10, 26, 23, 59, 57),
            24.49193,
            44.40971,
        ),
        (
            b"imei:865328021058861,tracker,151027041419,,F,011531.000,A,6020.2979,N,02506.1940,E,0.49,113.30,,0,0,0.0%,,;",
            utc(2015, 10, 27, 1, 15, 31),
            60.33830,
            25.10323,
        ),
    ],
)
def test_coban_positions_match_traccar(text: bytes, when: datetime, lat: float, lon: float) -> None:
    p = position_of(CobanDecoder().feed(text))
    assert p.fix_time == when
    assert p.valid is True
    assert p.latitude == pytest.approx(lat, abs=1e-5)
    assert p.longitude == pytest.approx(lon, abs=1e-5)


def test_coban_speed_is_knots() -> None:
    p = position_of(
        CobanDecoder().feed(
            b"imei:359710049090138,tracker,160629022948,,F,182949.000,A,4043.8839,N,11328.8029,W,"
            b"65.26,271.82,,1,0,31.37%,51442,;"
        )
    )
    assert p.speed_kmh == pytest.approx(65.26 * 1.852)
    assert p.course_deg == pytest.approx(271.82)
    assert p.ignition is True
    # local 02:29 on the 29th against 18:29 UTC: the device clock is UTC+8, so the 28th
    assert p.fix_time == utc(2016, 6, 28, 18, 29, 49)


def test_coban_logon_heartbeat_and_sos_replies() -> None:
    logon, beat, short, sos = CobanDecoder().feed(
        b"##,imei:359586015829802,A;359586015829802;imei:123451234512345,L,*"
        b"imei:359710049075097,help me,,,L,,,113b,,558f,,,,,0,0,,,;"
    )
    assert isinstance(logon, Frame)
    assert logon.reply == b"LOAD"
    assert logon.reject_reply is None  # an unregistered device gets nothing
    assert isinstance(beat, Frame)
    assert beat.reply == b"ON"
    assert beat.reject_reply is None  # an unregistered device gets nothing
    assert isinstance(short, Frame)  # Traccar answers any imei: frame of <= 30 chars with LOAD
    assert short.reply == b"LOAD"
    assert short.device_id == "123451234512345"
    assert isinstance(sos, Frame)
    assert sos.reply == b"**,imei:359710049075097,E;"
    alarm = sos.messages[0]
    assert isinstance(alarm, Alarm)
    assert alarm.alarm == "sos"
    assert alarm.io["lac"] == 0x113B
    assert alarm.io["cell_id"] == 0x558F


def test_coban_udp_datagrams_without_terminator() -> None:
    frame = frame_of(
        CobanDecoder().decode_datagram(
            b"359769031878322imei:359769031878322,tracker,1602160718,2,F,221811.000,A,"
            b"1655.2193,S,14546.6722,E,0.00,,"
        )
    )
    assert frame.reply == b"ON"  # the IMEI prefix is a heartbeat
    p = frame.positions[0]
    assert p.fix_time == utc(2016, 2, 15, 22, 18, 11)  # local 07:18 on the 16th is UTC+9
    assert p.latitude == pytest.approx(-(16 + 55.2193 / 60))
    assert p.longitude == pytest.approx(145 + 46.6722 / 60)
    alarm = frame_of(
        CobanDecoder().decode_datagram(
            b"imei:864895030279986,ac alarm,180404174252,,L,,,296a,,51f7,,,"
        )
    ).messages[0]
    assert isinstance(alarm, Alarm)
    assert alarm.alarm == "power_cut"


def test_coban_report_without_utc_time_uses_the_local_time() -> None:
    # hemisphere letters before the numbers, and "0.0" where the UTC time belongs
    p = position_of(
        CobanDecoder().feed(
            b"imei:353552045403597,tracker,150420050648,53.0,F,0.0,A,N,5306.64155,E,00700.77848,0.0,,1.0,;"
        )
    )
    assert p.fix_time == utc(2015, 4, 20, 5, 6, 48)
    assert p.latitude == pytest.approx(53 + 6.64155 / 60)
    assert p.longitude == pytest.approx(7 + 0.77848 / 60)
    assert p.speed_kmh == 0.0


def test_coban_alternative_firmware() -> None:
    frame = frame_of(
        CobanDecoder().feed(
            b"imei:861359038609986,Equipo 1,---,------,----,214734,241018,26,1,-33.42317,-70.61930,"
            b"067,229,0674,1.00,08,0,1,---,*"
        )
    )
    p = frame.positions[0]
    assert p.fix_time == utc(2018, 10, 24, 21, 47, 34)
    assert p.valid is True
    assert p.latitude == pytest.approx(-33.42317)
    assert p.longitude == pytest.approx(-70.61930)
    assert p.speed_kmh == pytest.approx(67.0)  # this firmware reports km/h
    assert p.course_deg == pytest.approx(229.0)
    assert p.altitude_m == pytest.approx(674.0)
    assert p.hdop == pytest.approx(1.0)
    assert p.satellites == 8
    assert p.gsm_signal == 26
    assert p.ignition is False
    assert p.charging is True


def test_coban_obd_report() -> None:
    report = frame_of(
        CobanDecoder().feed(
            b"imei:868683027758113,OBD,180905200218,,,,0,0,0.39%,70,9.41%,494,0.00,P0137,P0430,,;"
        )
    ).messages[0]
    assert isinstance(report, StatusReport)
    assert report.time == utc(2018, 9, 5, 20, 2, 18)
    assert report.io["rpm"] == 494
    assert report.io["coolant_temp"] == 70
    assert report.io["engine_load"] == pytest.approx(0.39)
    assert report.io["throttle"] == pytest.approx(9.41)
    assert report.io["dtcs"] == "P0137 P0430"
    assert report.external_voltage_v == 0.0


def test_coban_photo_packets_are_skipped_cleanly() -> None:
    items = CobanDecoder().feed(
        b"imei:864180034124375,vr,0c00fa011ea05a03d726977103ad0034c98ef49e6d303fffd1c836;"
        b"imei:359710045559474,tracker,151030080103,,F,000101.000,A,5443.3834,N,02512.9071,E,0.00,0;"
    )
    assert isinstance(items[0], UnsupportedMessage)
    assert isinstance(items[1], Frame)
    assert items[1].positions[0].fix_time == utc(2015, 10, 30, 0, 1, 1)


# --- H02 (H02ProtocolDecoderTest.java, H02FrameDecoderTest.java) --------------------------


@pytest.mark.parametrize(
    ("text", "when", "valid", "lat", "lon"),
    [
        (
            b"*HQ,4210051415,V1,164549,A,0956.3869,N,08406.7068,W,000.00,000,221215,FFFFFBFF,712,01,0,0,6#",
            utc(2015, 12, 22, 16, 45, 49),
            True,
            9.93978,
            -84.11178,
        ),
        (
            b"*HQ,9001000002,V8,213945,A,3542.2043,N,38.6508,W,0.00,170,221025,FBFFF9FF,0,0,0,0,22,31,126,0#",
            utc(2025, 10, 22, 21, 39, 45),
            True,
            35.70340,
            -0.64418,
        ),
        (
            b"*HQ,355488020119695,V1,050418,,2827.61232,N,07703.84822,E,0.00,0,031015,FFFEFBFF#",
            utc(2015, 10, 3, 5, 4, 18),
            False,
            28.46021,
            77.06414,
        ),
        (
            b"*HQ,1451316409,V1,030149,A,-23-29.0095,S,-46-51.5852,W,2.4,065,070315,FFFFFFFF#",
            utc(2015, 3, 7, 3, 1, 49),
            True,
            -23.48349,
            -46.85975,
        ),
    ],
)
def test_h02_text_positions_match_traccar(
    text: bytes, when: datetime, valid: bool, lat: float, lon: float
) -> None:
    p = position_of(H02Decoder(clock=lambda: NOW).feed(text))
    assert p.fix_time == when
    assert p.valid is valid
    assert p.latitude == pytest.approx(lat, abs=1e-5)
    assert p.longitude == pytest.approx(lon, abs=1e-5)


def test_h02_v1_reply_speed_and_status() -> None:
    frame = frame_of(
        H02Decoder(clock=lambda: NOW).feed(
            b"*HQ,1451316409,V1,030149,A,-23-29.0095,S,-46-51.5852,W,2.4,065,070315,FFFFFFFF#"
        )
    )
    assert frame.reply == b"*HQ,1451316409,V4,V1,20250102030405#"
    p = frame.positions[0]
    assert p.speed_kmh == pytest.approx(2.4 * 1.852)  # H02 speed is knots
    assert p.course_deg == pytest.approx(65.0)
    assert p.io["status"] == 0xFFFFFFFF
    assert p.ignition is True  # bit 10 set
    assert p.alarm is None


def test_h02_binary_frames_match_traccar() -> None:
    decoder = H02Decoder()
    long_frame = bytes.fromhex(
        "24410600082621532131081504419390060740418306000000fffffbfdff0015060000002c02dc0c000000001f"
    )
    p = position_of(decoder.feed(long_frame))
    assert p.device_id == "4106000826"
    assert p.fix_time == utc(2015, 8, 31, 21, 53, 21)
    assert p.valid is True
    assert p.latitude == pytest.approx(4.69898, abs=1e-5)
    assert p.longitude == pytest.approx(-74.06971, abs=1e-5)
    assert p.io["status"] == 0xFFFFFBFD
    status = position_of(
        H02Decoder().feed(
            bytes.fromhex(
                "2441091144271222470112142233983006114026520E000000FFFFFBFFFF0014060000000001CC00262B0F170A"
            )
        )
    )
    assert status.io["status"] == 0xFFFFFBFF
    assert status.battery_percent == 100.0  # battery byte 6


def test_h02_binary_long_id_frame() -> None:
    p = position_of(
        H02Decoder().feed(
            bytes.fromhex(
                "2435248308419329301047591808172627335900074412294E024138FEFFFFFFFF01120064BA73005ECC"
            )
        )
    )
    assert p.device_id == "352483084193293"
    assert p.fix_time == utc(2017, 8, 18, 10, 47, 59)
    assert p.latitude == pytest.approx(26 + 27.3359 / 60)
    assert p.longitude == pytest.approx(74 + 41.2294 / 60)
    assert p.speed_kmh == pytest.approx(24 * 1.852)
    assert p.course_deg == 138.0


def test_h02_binary_datagram_of_another_length() -> None:
    # 48 bytes in one datagram: one frame, not a 45-byte frame and garbage
    data = bytes.fromhex(
        "24971305007205201916101533335008000073206976000000effffbffff000252776566060000000000000000000049"
    )
    p = position_of(H02Decoder().decode_datagram(data))
    assert p.device_id == "9713050072"
    assert p.fix_time == utc(2015, 10, 16, 5, 20, 19)
    assert p.latitude == pytest.approx(33 + 33.5008 / 60)
    assert p.longitude == pytest.approx(-(7 + 32.0697 / 60))


def test_h02_mixed_stream_from_frame_decoder_test() -> None:
    # H02FrameDecoderTest.testDecodeShort: a 32-byte binary frame followed by a text frame
    stream = bytes.fromhex(
        "2441060116601245431311165035313006004318210e000000fffffbffff0024"
        "2a48512c343130363031313636302c56312c3132343535322c412c353033352e333132392c4e2c"
        "30303433312e383231312c452c3030302e32302c3030302c3133313131362c464646464642464623"
    )
    decoder = H02Decoder(clock=lambda: NOW)
    binary, text = decoder.feed(stream)
    assert isinstance(binary, Frame)
    assert binary.kind == "binary"
    assert binary.positions[0].fix_time == utc(2016, 11, 13, 12, 45, 43)
    assert isinstance(text, Frame)
    assert text.kind == "V1"
    assert text.positions[0].fix_time == utc(2016, 11, 13, 12, 45, 52)
    assert decoder.binary_length == 32


def test_h02_heartbeat_link_v3_nbr_sms() -> None:
    items = H02Decoder(clock=lambda: NOW).feed(
        b"*HQ,135790246811220,HTBT,100#\r\n"
        b"*HQ,1700086468,LINK,180902,15,0,84,0,0,240517,FFFFFBFF#"
        b"*HQ,355488020882405,V3,095426,74001,04,010278,045142,128,-92,010278,026311,125,,"
        b"010278,026582,125,,010278,028322,119,,02DE,0,X,090517,FFFFFBFF#"
        b"*HQ,1400046168,NBR,160169,460,0,1,4,9338,3692,150,9338,3691,145,9338,3690,140,"
        b"9338,3692,139,180813,FFFFFBFF#"
        b"*HQ,5226073533,SMS,ST906(70SACD)_TQ_V_2.0 2024/06/07\nID:5226073533\nGSM:26#"
    )
    beat, link, v3, nbr, sms = (frame_of([item]) for item in items)
    assert beat.reply == b"*HQ,135790246811220,HTBT#"
    assert beat.reject_reply is None  # an unregistered device gets nothing
    assert isinstance(beat.messages[0], Heartbeat)
    assert beat.messages[0].battery_percent == 100.0
    report = link.messages[0]
    assert isinstance(report, StatusReport)
    assert report.time == utc(2017, 5, 24, 18, 9, 2)
    assert report.gsm_signal == 15
    assert report.battery_percent == 84.0
    assert report.io["satellites"] == 0
    cells = v3.messages[0]
    assert isinstance(cells, StatusReport)
    assert cells.time == utc(2017, 5, 9, 9, 54, 26)
    assert (cells.io["mcc"], cells.io["mnc"]) == (740, 1)
    assert str(cells.io["cells"]).count(";") == 3  # four cells
    assert cells.io["status"] == 0xFFFFFBFF
    assert nbr.reply == b"*HQ,1400046168,V4,NBR,20250102030405#"
    lbs = nbr.messages[0]
    assert isinstance(lbs, StatusReport)
    assert lbs.time is None  # "160169" has 69 seconds
    assert lbs.io["cells"] == "9338,3692,150;9338,3691,145;9338,3690,140;9338,3692,139"
    answer = sms.messages[0]
    assert isinstance(answer, CommandResponse)
    assert answer.text == "ST906(70SACD)_TQ_V_2.0 2024/06/07\nID:5226073533\nGSM:26"


def test_h02_vp1_reports() -> None:
    decoder = H02Decoder(clock=lambda: NOW)
    fix, cells = decoder.feed(
        b"*hq,356327080425330,VP1,A,2702.7245,S,15251.9311,E,0.48,0.0000,080917#"
        b"*hq,356327081001239,VP1,V,470,002,92,3565,0Y92,19433,30Y92,1340,29#"
    )
    p = position_of([fix])
    assert p.latitude == pytest.approx(-(27 + 2.7245 / 60))
    assert p.longitude == pytest.approx(152 + 51.9311 / 60)
    assert p.speed_kmh == pytest.approx(0.48 * 1.852)
    assert p.fix_time == utc(2017, 9, 8)  # a date without a time of day
    report = frame_of([cells]).messages[0]
    assert isinstance(report, StatusReport)
    assert report.io["cells"] == "92,3565,0;92,19433,30;92,1340,29"
    today = H02Decoder(clock=lambda: utc(2017, 9, 8, 12, 30, 1)).feed(
        b"*hq,356327080425330,VP1,A,2702.7245,S,15251.9311,E,0.48,0.0000,080917#"
    )
    assert position_of(today).fix_time == utc(2017, 9, 8, 12, 30, 1)


def test_h02_v1_without_clock_is_stamped_on_arrival() -> None:
    p = position_of(
        H02Decoder(clock=lambda: NOW).feed(
            b"*HQ,353505220873067,V1,,V,4605.75732,N,01430.73863,E,0.00,0,,FFFFFFEF,125,194,  64,d3#"
        )
    )
    assert p.fix_time == NOW
    assert p.valid is False
    assert p.latitude == pytest.approx(46 + 5.75732 / 60)


def test_h02_command_answers_and_unknown_types() -> None:
    items = H02Decoder(clock=lambda: NOW).feed(
        b"*TH,2020916012,V4,S20,ERROR,130305,050316,A,2212.8745,N,11346.6574,E,14.28,028,220902,FFFFFBFF#"
        b"*HQ,356327080425330,XT,1,100#"
        b"*HQ,8401016597,BASE,152609,0,0,0,0,211014,FFFFFFFF#"
        b"*HQ,2705171109,V1,213324,A,5002.5849,N,01433.7822,E,0.00,000,140613,FFFFFFFF#"
    )
    answer, xt, base, v1 = items
    p = position_of([answer])
    assert p.fix_time == utc(2002, 9, 22, 5, 3, 16)
    assert p.speed_kmh == pytest.approx(14.28 * 1.852)
    assert isinstance(xt, UnsupportedMessage)
    assert isinstance(base, UnsupportedMessage)
    assert position_of([v1]).io["status"] == 0xFFFFFFFF


# --- OsmAnd / Traccar Client (OsmAndProtocolDecoderTest.java, traccar-client) ------------

_JSON_APP = (
    '{"location":{"event":"motionchange","is_moving":false,"uuid":"0e9a2473-a9a7-4c00-997b-'
    'fb97d2154e75","timestamp":"2021-07-21T08:06:34.444Z","odometer":0,"coords":{"latitude":'
    '-6.1148096,"longitude":106.6837015,"accuracy":3.8,"speed":18.67,"speed_accuracy":0.26,'
    '"heading":63,"heading_accuracy":0.28,"altitude":35.7,"altitude_accuracy":3.8},"activity":'
    '{"type":"still","confidence":100},"battery":{"is_charging":false,"level":0.79},"extras":{}},'
    '"device_id":"8737767034"}'
)


def test_osmand_json_speed_is_metres_per_second() -> None:
    (p,) = parse_request(query="/", body=_JSON_APP, content_type="application/json")
    assert isinstance(p, Position)
    assert p.device_id == "8737767034"
    assert p.fix_time == datetime(2021, 7, 21, 8, 6, 34, 444000, tzinfo=UTC)
    assert p.latitude == pytest.approx(-6.1148096)
    assert p.longitude == pytest.approx(106.6837015)
    assert p.speed_kmh == pytest.approx(18.67 * 3.6)
    assert p.course_deg == 63.0
    assert p.altitude_m == pytest.approx(35.7)
    assert p.accuracy_m == pytest.approx(3.8)
    assert p.battery_percent == 79.0
    assert p.charging is False
    assert p.motion is False


def test_osmand_json_template_of_the_current_app() -> None:
    # traccar-client lib/preferences.dart: unknown heading/speed are -1, and a "_" query
    body = (
        '{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,'
        '"longitude":-122.084,"accuracy":5,"speed":-1,"heading":-1,"altitude":5},"is_moving":'
        'false,"odometer":0,"event":"","battery":{"level":-1,"is_charging":false},"activity":'
        '{"type":"still"},"extras":{"device_integer_twelve_test":12,"heartbeat":true},'
        '"_":"&id=48241179&lat=37.4219983&lon=-122.084&timestamp=2025-06-15T13:45:12.862Z&"},'
        '"device_id":"48241179"}'
    )
    (p,) = parse_request(body=body, content_type="application/json; charset=utf-8")
    assert isinstance(p, Position)
    assert p.fix_time == datetime(2025, 6, 15, 13, 45, 12, 862000, tzinfo=UTC)
    assert p.speed_kmh is None
    assert p.course_deg is None
    assert p.battery_percent is None
    assert p.io["device_integer_twelve_test"] == 12
    assert p.io["heartbeat"] is True


def test_osmand_query_formats() -> None:
    (ms,) = parse_request(
        query="/?id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0&speed=0.0"
    )
    assert isinstance(ms, Position)
    assert ms.fix_time == datetime(2015, 9, 12, 14, 38, 6, 579000, tzinfo=UTC)
    assert ms.hdop == 6.0
    (knots,) = parse_request(
        query="/?id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571"
        "&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24"
    )
    assert isinstance(knots, Position)
    assert knots.fix_time == utc(2017, 9, 7, 5, 56, 50)
    assert knots.speed_kmh == pytest.approx(40 * 1.852)  # query speed is knots
    assert knots.ignition is True
    assert knots.io["rpm"] == 933
    (local,) = parse_request(
        query="/?lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0&id=353861053849681"
    )
    assert local.device_id == "353861053849681"
    assert isinstance(local, Position)
    assert local.fix_time == utc(2014, 6, 4, 9, 10, 11)
    (loc,) = parse_request(query="/?id=123456&timestamp=1377177267&location=60.0,30.0")
    assert isinstance(loc, Position)
    assert (loc.latitude, loc.longitude) == (60.0, 30.0)
    assert loc.fix_time == utc(2013, 8, 22, 13, 14, 27)
    (cells,) = parse_request(
        query="/?id=123456&timestamp=1377177267&cell=257,02,16,2224&cell=257,02,16,2223,-90"
        "&wifi=00-14-22-01-23-45,-80&wifi=00-1C-B3-09-85-15,-70"
    )
    assert isinstance(cells, StatusReport)
    assert cells.io["wifi"] == "00:14:22:01:23:45,-80;00:1C:B3:09:85:15,-70"


def test_osmand_form_body_of_app_10() -> None:
    (p,) = parse_request(
        query="/",
        body="id=48241179&timestamp=1750000000&lat=37.4219983&lon=-122.084&speed=1.5&bearing=90"
        "&altitude=5&accuracy=5&batt=80&charge=false",
        content_type="application/x-www-form-urlencoded; charset=UTF-8",
    )
    assert isinstance(p, Position)
    assert p.device_id == "48241179"
    assert p.fix_time == utc(2025, 6, 15, 15, 6, 40)
    assert p.speed_kmh == pytest.approx(1.5 * 1.852)
    assert p.battery_percent == 80.0
    assert p.charging is False


# --- cut frames (a frame cut short runs into the next one) ---------------------------------


def test_coban_cut_frame_does_not_swallow_the_next_one() -> None:
    full = b"imei:359710045559474,tracker,151030080103,,F,000101.000,A,5443.3834,N,02512.9071,E,0.00,0;"
    cut, frame = CobanDecoder().feed(b"imei:359710045559474,tracker,1510" + full)
    assert isinstance(cut, ProtocolError)
    assert position_of([frame]).fix_time == utc(2015, 10, 30, 0, 1, 1)


def test_h02_cut_frame_does_not_swallow_the_next_one() -> None:
    full = b"*HQ,4210051415,V1,164549,A,0956.3869,N,08406.7068,W,000.00,000,221215,FFFFFBFF,712,01,0,0,6#"
    cut, frame = H02Decoder(clock=lambda: NOW).feed(b"*HQ,4210051415,V1,1645" + full)
    assert isinstance(cut, ProtocolError)
    assert position_of([frame]).fix_time == utc(2015, 12, 22, 16, 45, 49)
