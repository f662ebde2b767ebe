"""Device IDs are checked per protocol: a malformed ID is a protocol error, never a device.

An attacker on loopback sent IDs holding newlines (to forge Home Assistant log lines) and
thousands of made-up IDs (to flood the discovery); here every decoder and the gateway's
listeners refuse such IDs before anything is logged or offered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
import logging
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest

from custom_components.thingbridge.m2m.gateway import TrackerGateway
from custom_components.thingbridge.m2m.journal import TrackerJournal
from custom_components.thingbridge.m2m.trackers import (
    CobanDecoder,
    FieldError,
    Frame,
    Gt06Decoder,
    H02Decoder,
    ProtocolError,
    TeltonikaDecoder,
    TeltonikaUdpDecoder,
    Tk103Decoder,
    UnsupportedMessage,
    parse_json,
    parse_query,
    valid_device_id,
)
from simulator.trackers import gt06_frame, teltonika_login, teltonika_udp

FORGED = "123\n2026-12-04 12:00:00.000 ERROR (MainThread) [homeassistant.core] FORGED LINE"
FORGED_TK103 = "1\nERROR FORGED"  # the comma form takes up to 20 characters


@pytest.mark.parametrize(
    ("protocol", "good", "bad"),
    [
        ("teltonika", ["356307042441013"], ["35630704244101", "3563070424410130", "35630704244101x"]),
        ("gt06", ["864717003283581", "1864717003283581"], ["86471700328358", "86471700328358x", "1" * 17]),
        ("tk103", ["088048003342", "08804800334", "352606090042050"], ["0880480033", "ABCDEFGHIJKL"]),
        ("coban", ["359586015829802"], ["35958601582980", "ABC", ""]),
        ("h02", ["4210051415", "355488020119695"], ["421005141", "4210051415000000", "HQ"]),
        ("osmand", ["traccar-phone-7", "123456", "a.b_c:d"], ["", "a b", "x" * 65, "é", FORGED]),
    ],
)  # fmt: skip
def test_valid_device_id(protocol: str, good: list[str], bad: list[str]) -> None:
    assert all(valid_device_id(protocol, i) for i in good)
    assert not any(valid_device_id(protocol, i) for i in bad)
    assert not valid_device_id("nonsense", good[0])


def _only_error(items: list[Frame | ProtocolError]) -> FieldError:
    assert len(items) == 1, items
    (item,) = items
    assert isinstance(item, FieldError), item
    assert item.field in {"device id", "imei"}  # "imei": a GT06 ID that is not BCD
    assert item.device_id is None
    assert "\n" not in str(item)
    return item


@pytest.mark.parametrize(
    ("make_decoder", "data"),
    [
        (TeltonikaDecoder, teltonika_login("12345678")),
        (Gt06Decoder, gt06_frame(0x01, bytes.fromhex("0a6471700328358f") + b"\x36\x08", 1)),
        (Tk103Decoder, b"(ABCDEFGHIJKLBP00ABCDEFGHIJKLHSO)"),
        (Tk103Decoder, f"({FORGED_TK103},BP00,HSO)".encode()),
        (CobanDecoder, b"##,imei:1234,A;"),
        (CobanDecoder, b"1234;"),
        (CobanDecoder, b"imei:1234,tracker,2611010800,,F,080000.000,A,5441.2320,N,02516.7820,E,0,0;"),
        (H02Decoder, f"*HQ,{FORGED},V0#".encode()),
        (H02Decoder, b"*HQ,42,V1,080000,A,5441.2320,N,02516.7820,E,0,0,011126,FFFFFBFF#"),
    ],
)  # fmt: skip
def test_decoders_refuse_malformed_ids(make_decoder: type[Tk103Decoder], data: bytes) -> None:
    _only_error(make_decoder().feed(data))


def test_teltonika_refuses_data_after_a_malformed_login() -> None:
    decoder = TeltonikaDecoder()
    items = decoder.feed(teltonika_login("12345678"))
    _only_error(items)
    assert decoder.device_id is None  # its AVL packets are not identified either


def test_teltonika_udp_refuses_a_malformed_imei() -> None:
    _only_error(TeltonikaUdpDecoder().decode_datagram(teltonika_udp("1234567890", [], 1, 1)))


def test_osmand_refuses_malformed_ids_and_escapes_them() -> None:
    for parse in (
        lambda: parse_query(urlencode({"id": FORGED, "lat": "1", "lon": "2"})),
        lambda: parse_json(json.dumps({"device_id": FORGED, "location": {"coords": {}}})),
    ):
        with pytest.raises(FieldError) as caught:
            parse()
        assert caught.value.field == "device id"
        assert "\n" not in str(caught.value)
        assert "\\n" in str(caught.value)  # shown escaped


def test_error_reasons_quoting_device_text_are_one_line() -> None:
    (item,) = H02Decoder().feed(b"*HQ,4210051415,X\nFORGED\x1b[31m,1#")
    assert isinstance(item, UnsupportedMessage)
    assert item.reason.isprintable()
    assert "X\\nFORGED\\x1b[31m" in item.reason


# -- over real sockets: nothing is offered, nothing is logged raw --------------------------------


@pytest.fixture
async def gateway(tmp_path: Path, socket_enabled: None) -> AsyncIterator[TrackerGateway]:
    unknown: list[tuple[str, str]] = []
    async with TrackerJournal(tmp_path / "j.db") as journal:
        gw = TrackerGateway(
            journal,
            host="127.0.0.1",
            ports={"osmand": 0, "teltonika": 0, "h02": 0},
            is_registered=lambda _p, _d: False,
            on_positions=lambda _p, _ps: None,
            on_unknown_device=lambda p, d: unknown.append((p, d)),
        )
        gw.unknown_calls = unknown  # type: ignore[attr-defined]
        async with gw:
            yield gw


async def test_forged_ids_are_refused_and_logged_escaped(
    gateway: TrackerGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.thingbridge")
    url = f"http://127.0.0.1:{gateway.ports['osmand']}/"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, params={"id": FORGED, "lat": "1", "lon": "2"}) as resp:
            assert resp.status == 400
            assert "device id" in await resp.text()
        body = {"device_id": FORGED, "location": {"coords": {"latitude": 1, "longitude": 2}}}
        async with session.post(url, json=body) as resp:
            assert resp.status == 400
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.ports["h02"])
    writer.write(f"*HQ,{FORGED},V0#".encode())
    assert await reader.read() == b""  # no echo; dropped as not a frame of this protocol
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.ports["teltonika"])
    writer.write(teltonika_login("12345678"))
    assert await reader.read() == b""  # neither 01 nor 00: not a Teltonika IMEI
    writer.close()
    assert gateway.unknown_calls == []  # type: ignore[attr-defined]
    assert gateway.stats.rejected == 0
    assert gateway.stats.errors == 4
    assert "FORGED" in caplog.text  # it was logged, escaped
    for record in caplog.records:
        assert "\n" not in record.getMessage()
