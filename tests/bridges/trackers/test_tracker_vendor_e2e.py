"""Real device frames on real sockets, into the gateway that Home Assistant runs.

Each test plays one device of one protocol with raw bytes from the vendor-frame tests
(tests/lib/m2m/test_trackers_vendor_frames.py and test_trackers_vendor_text.py: Traccar's
Apache-2.0 decoder tests at 9e5c458 and Teltonika's documentation), never our simulator.
Where a test needs a frame those samples do not have (an older record of the same device, a
heartbeat of its ID), it edits a sample field by hand (noted). The replies expected are
written out from the vendor layouts, with this file's own CRC-16/X.25; the values expected
are worked out by hand from the frame fields.

For every protocol: an unknown device gets no data ACK (and no handshake or heartbeat answer,
which TK103, Coban and H02 devices take as delivery) and is offered under Discovered;
once confirmed, its resend is answered as the protocol requires and its values reach the
device tracker and the sensors; older buffered records do not move it back; a resend is
journaled once; garbage between frames costs nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
import contextlib
from datetime import UTC, datetime, timedelta
import re
from typing import Any

import aiohttp
from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from custom_components.thingbridge.bridges.trackers.discovery import discovery_unique_id
from custom_components.thingbridge.bridges.trackers.runtime import TrackerGatewayRuntime
from custom_components.thingbridge.const import DOMAIN
from tests.tracker_support import HOST, entity_id, gateway_entry, setup_gateway, state_of, wait_for

pytestmark = pytest.mark.usefixtures("socket_enabled")

H = bytes.fromhex
TIMEOUT = 5.0
KNOT = 1.852


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of the test's own: the journal is written there."""
    return hass_tmp_config_dir


def x25(data: bytes) -> int:
    """CRC-16/X.25 (reflected 0x1021, init and final XOR 0xFFFF), written from its definition."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def gt06_reply(number: int, serial: int) -> bytes:
    """GT06 server response: 7878, length 5, protocol number, serial, X.25 of length..serial."""
    body = bytes((0x05, number)) + serial.to_bytes(2, "big")
    return b"xx" + body + x25(body).to_bytes(2, "big") + b"\r\n"


def test_own_x25_matches_the_published_replies() -> None:
    # Traccar's reply to its 0x12 sample, and the spec's heartbeat example answer
    assert gt06_reply(0x12, 0x0003) == H("787805120003903F0D0A")
    assert gt06_reply(0x13, 0x0005) == H("787805130005AFD50D0A")


# ------------------------------------------------------------------------------ helpers


class TcpDevice:
    """A device on one TCP connection that checks every reply byte for byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> TcpDevice:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def send(self, data: bytes, reply: bytes) -> None:
        """Send ``data``; the next bytes the gateway writes are exactly ``reply``."""
        self.writer.write(data)
        async with asyncio.timeout(TIMEOUT):
            got = await self.reader.readexactly(len(reply))
        assert got == reply, (data, got, reply)

    async def unanswered(self, data: bytes, then: bytes, reply: bytes) -> None:
        """``data`` gets no reply: the next bytes are the reply to the frame sent after it."""
        self.writer.write(data)
        await self.send(then, reply)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):  # the gateway may have closed it first
            await self.writer.wait_closed()


class UdpDevice(asyncio.DatagramProtocol):
    """A device sending datagrams and collecting the answers."""

    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def connect(cls, port: int) -> UdpDevice:
        loop = asyncio.get_running_loop()
        _, device = await loop.create_datagram_endpoint(cls, remote_addr=(HOST, port))
        return device

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.replies.put_nowait(data)

    async def send(self, data: bytes, reply: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data)
        async with asyncio.timeout(TIMEOUT):
            assert await self.replies.get() == reply

    def close(self) -> None:
        assert self.transport is not None
        self.transport.close()


def discovery(hass: HomeAssistant, protocol: str, device_id: str) -> list[dict[str, Any]]:
    return list(
        hass.config_entries.flow.async_progress_by_handler(
            DOMAIN, match_context={"unique_id": discovery_unique_id(protocol, device_id)}
        )
    )


async def confirm_discovered(
    hass: HomeAssistant, runtime: TrackerGatewayRuntime, protocol: str, device_id: str
) -> None:
    """The unknown device was offered under Discovered; the user adds it."""
    await wait_for(hass, lambda: bool(discovery(hass, protocol, device_id)), "discovery")
    [flow] = discovery(hass, protocol, device_id)
    assert flow["context"]["source"] == SOURCE_INTEGRATION_DISCOVERY
    assert await runtime.journal.count(device_id) == 0  # nothing was acknowledged
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {"name": "Unit"})
    assert (result["type"], result["reason"]) == ("abort", "tracker_added")
    await hass.async_block_till_done()
    assert runtime.is_registered(protocol, device_id)


def where(hass: HomeAssistant, protocol: str, device_id: str) -> tuple[float, float]:
    state = state_of(hass, entity_id(hass, "device_tracker", protocol, device_id, "location"))
    return (state.attributes["latitude"], state.attributes["longitude"])


def value(hass: HomeAssistant, protocol: str, device_id: str, key: str) -> str:
    platform = "binary_sensor" if key in ("ignition", "motion", "online") else "sensor"
    return state_of(hass, entity_id(hass, platform, protocol, device_id, key)).state


async def check(
    hass: HomeAssistant,
    protocol: str,
    device_id: str,
    lat: float,
    lon: float,
    **values: float | str,
) -> None:
    """The tracker shows ``lat, lon`` (1e-5) and the sensors the given values."""
    await hass.async_block_till_done()
    assert where(hass, protocol, device_id) == pytest.approx((lat, lon), abs=1e-5)
    for key, expected in values.items():
        got = value(hass, protocol, device_id, key)
        if isinstance(expected, str):
            assert got == expected, key
        else:
            assert float(got) == pytest.approx(expected, abs=1e-3), key


async def journaled(runtime: TrackerGatewayRuntime, device_id: str) -> int:
    return await runtime.journal.count(device_id)


# ------------------------------------------------------------------------------ Teltonika

TELTONIKA_IMEI = "123456789012345"
TELTONIKA_LOGIN = H("000F313233343536373839303132333435")  # Traccar's login of that IMEI
# Traccar, Codec 8E, one record: 2021-04-08 10:52:26, lon 0x040bbbc9, lat 0x1f03190c,
# altitude 0x21, angle 0xe1, 19 satellites, speed 0x13 km/h; IO 239 ignition 1, 66 = 14304 mV
CODEC_8E = H(
    "00000000000000a38e0100000178b11c9e1000040bbbc91f03190c002100e113001300000010000600ef01"
    "00f00100150300c800004501001e070005004237e00018000a00ce166200430f970024059f000300f100006659"
    "00c70000001e00100000a1b500000002010000115756315a5a5a32455a38363031353338380119002950303239"
    "392c50303637352c50303637342c50303637322c50303637312c50303437312c50324241430100001ad8"
)
# Traccar, Codec 8, one record of 2019-01-04 at 48.1523066, 16.3745183
CODEC_8 = H(
    "000000000000004c08010000016818d500580009c28d9f1cb3757a00be00c60f0053000f06f0011503c8"
    "0001011d00fc0007423799180053cdf80dce426f430f88190bb8560bb802f100005aa110002887e000010000ee8d"
)
# Traccar, Codec 16, one record of 2018-07-26
CODEC_16 = H(
    "000000000000009F100100000164D855401800D5E3B744EC11C762023B011A060000000007200A0100000105"
    "00010600010D00010E00010F00011600011700011800011F001301010000010700000108000001090000010A"
    "0000010B0000010C000001100000011100000112000001130000011400000115000001190000011A0000011B"
    "0000011C0000011D0000011E000003010200000000010300000000010400000000000100000D3B"
)
# Traccar, GH3000 (codec 7): four records of 2015 (two with GPS) and two of 2013
GH3000_4 = H(
    "0000000000000055070450aa14320201f00150aa17f3031f42332a4c4193d68c008d00020901f00150aa1b6a"
    "031f423383f54193624f009d00000a01f00150aa1c230fc01a0000552b040164f400dd00f001014310"
    "0c0105000000050400006846"
)
GH3000_2 = H(
    "000000000000003107024c61410b013f4231c2c141d0beb9003d000005006483ff4c6140eb013f4231c2c1"
    "41d0beb9003d000005006483ff02000041df"
)


def count(n: int) -> bytes:
    return n.to_bytes(4, "big")


async def test_teltonika_tcp_device(hass: HomeAssistant) -> None:
    imei = TELTONIKA_IMEI
    runtime = await setup_gateway(hass, gateway_entry(protocols=("teltonika",)))
    port = runtime.gateway.ports["teltonika"]
    stats = runtime.gateway.stats
    # unknown: the IMEI is refused with 00, so the device keeps its records
    device = await TcpDevice.connect(port)
    await device.send(TELTONIKA_LOGIN, b"\x00")
    await device.close()
    await confirm_discovered(hass, runtime, "teltonika", imei)

    device = await TcpDevice.connect(port)
    await device.send(TELTONIKA_LOGIN, b"\x01")
    await device.send(CODEC_8E, count(1))
    await check(
        hass, "teltonika", imei, 52.0296716, 6.7877833,
        speed=19, course=225, altitude=33, external_voltage=14.304, ignition=STATE_ON,
    )  # fmt: skip
    assert await journaled(runtime, imei) == 1

    # garbage between packets is skipped; the next packet is answered with its count
    await device.unanswered(b"GARBAGE\r\n", CODEC_8, count(1))
    await device.unanswered(b"\xde\xad\xbe\xef" * 3, CODEC_16, count(1))
    # the buffer of older records (2013-2019) after the newest: answered, not shown
    await device.send(GH3000_4 + GH3000_2, count(4) + count(2))
    assert await journaled(runtime, imei) == 1 + 1 + 1 + 2 + 2
    await check(hass, "teltonika", imei, 52.0296716, 6.7877833, speed=19, course=225)
    assert dt_util.parse_datetime(
        value(hass, "teltonika", imei, "last_fix")
    ) == dt_util.parse_datetime("2021-04-08T10:52:26+00:00")
    # a resend (the ACK was lost): answered again, journaled once
    duplicates = stats.duplicates
    await device.send(CODEC_8E, count(1))
    assert stats.duplicates == duplicates + 1
    assert await journaled(runtime, imei) == 7
    await device.close()
    assert stats.errors == 2


async def test_teltonika_truncated_packet_costs_only_a_resend(hass: HomeAssistant) -> None:
    """A cut packet swallows the start of the next one; that one is not ACKed, so it is resent."""
    imei = TELTONIKA_IMEI
    runtime = await setup_gateway(hass, gateway_entry([("teltonika", imei, "Van")]))
    device = await TcpDevice.connect(runtime.gateway.ports["teltonika"])
    await device.send(TELTONIKA_LOGIN, b"\x01")
    await device.send(CODEC_8, count(1))
    # 30 bytes of a packet, then a whole one: the length field takes 84 bytes as one
    # packet, whose CRC fails; neither is acknowledged, and the device resends
    await device.unanswered(CODEC_16[:30] + CODEC_8E, CODEC_8E, count(1))
    await check(hass, "teltonika", imei, 52.0296716, 6.7877833, speed=19)
    assert await journaled(runtime, imei) == 2
    await device.close()


# Traccar's UDP datagram: packet id CAFE, AVL packet id 0x22, IMEI 357454072713975, one
# Codec 8 record of 2017-07-12 15:24:41: lon 0x003eef96, lat 0x1ec6215e, altitude 0x63,
# angle 0x6d, speed 0x31 km/h; IO 240 movement 1, IO 66 = 14364 mV
UDP_IMEI = "357454072713975"
UDP_AVL = H(
    "0049cafe0122000f33353734353430373237313339373508010000015d3766f6a800003eef961ec6215e0063"
    "006d09003100070401000200f001c8000242381c18003201c7000000e10001"
)


def udp_wrap(records: bytes, avl_id: int) -> bytes:
    """Teltonika UDP channel header (length, packet id, 01, AVL id, IMEI) around AVL data."""
    imei = UDP_IMEI.encode()
    body = b"\xca\xfe\x01" + bytes((avl_id,)) + len(imei).to_bytes(2, "big") + imei + records
    return len(body).to_bytes(2, "big") + body


async def test_teltonika_udp_device(hass: HomeAssistant) -> None:
    runtime = await setup_gateway(hass, gateway_entry(protocols=("teltonika",)))
    device = await UdpDevice.connect(runtime.gateway.udp_ports["teltonika"])
    assert device.transport is not None
    device.transport.sendto(UDP_AVL)
    await confirm_discovered(hass, runtime, "teltonika", UDP_IMEI)
    assert device.replies.empty()  # an unknown device's records are not acknowledged

    # the resend is answered: 0005, packet id, 01, AVL packet id, records accepted
    await device.send(UDP_AVL, H("0005CAFE012201"))
    await check(
        hass, "teltonika", UDP_IMEI, 51.630115, 0.4124566,
        speed=49, course=109, altitude=99, external_voltage=14.364, motion=STATE_ON,
    )  # fmt: skip
    # garbage datagrams are dropped, nothing is answered, the next one is
    device.transport.sendto(b"\x00\x05garbage")
    device.transport.sendto(UDP_AVL[:40])  # a truncated datagram
    # two GH3000 records of 2013 (Traccar's, in a UDP header of their own)
    await device.send(udp_wrap(GH3000_2[8:-4], 0x23), H("0005CAFE012302"))
    assert runtime.gateway.stats.errors == 2
    await check(hass, "teltonika", UDP_IMEI, 51.630115, 0.4124566, speed=49)
    duplicates = runtime.gateway.stats.duplicates
    await device.send(UDP_AVL, H("0005CAFE012201"))
    assert runtime.gateway.stats.duplicates == duplicates + 1
    assert await journaled(runtime, UDP_IMEI) == 3
    device.close()


# ------------------------------------------------------------------------------ GT06

GT06_IMEI = "864717003283581"
GT06_LOGIN = H("78780D01086471700328358100093F040D0A")  # terminal ID 0864717003283581, serial 9
# Traccar 0x1E: 2014-03-17 11:05:17, lat 0x01c664fd S, lon 0x074db73f W, 2 km/h,
# course 0x18a6 & 0x3ff = 166; serial 0x0120
GT06_1E = H(
    "7878471e0e03110b0511c501c664fd074db73f0218a602e003433a002fed40433a0056e14e433a0056104e"
    "433a0056fd53433a002eed55433a007e4b57433a002ee25aff00020120f6720d0a"
)
# Traccar 0x12: 2015-10-20 14:21:11, 54.94535, 24.01762, serial 3
GT06_12 = H("78781f120f0a140e150bc505e51e780293a9e800540000f601006e0055da00035f240d0a")
# Traccar 0x12 (VXT01, length 0x24): 2022-04-14 16:44:34, lat 0x00915ffb S, lon 0x04c60163
# W, course 0x195a & 0x3ff = 346, external voltage 0x0571 = 13.93 V, serial 0x01dd
GT06_VXT01 = H("7878241216040e102c22cf00915ffb04c6016300195a02d402283b00753f400571040001dda4880d0a")
# the spec's heartbeat example: terminal info 0x44, voltage level 1, GSM 4, serial 5
GT06_HEARTBEAT = H("78780A134401040001000508450D0A")
# Traccar 0x16 SOS alarm: 2023-09-19 15:58:45, lat 0x02c55f2a N, lon 0x089f9af9 W, serial 0x035f
GT06_SOS = H(
    "787826161709130f3a2dcc02c55f2a089f9af9005c210901360481fe066d9b03413e420102035f92fe0d0a"
)
# Traccar 0x26 alarm: 2022-09-19 06:57:24, serial 7
GT06_26 = H("78782526160913063918c002780fab0c44750f00040008027f14084c0038420600030c020007398e0d0a")


def gt06_degrees(raw: int, negative: bool = False) -> float:
    return (-1 if negative else 1) * raw / 30000 / 60


async def test_gt06_device(hass: HomeAssistant) -> None:
    imei = GT06_IMEI
    runtime = await setup_gateway(hass, gateway_entry(protocols=("gt06",)))
    port = runtime.gateway.ports["gt06"]
    # unknown: silence, even to the login (Traccar's behaviour)
    device = await TcpDevice.connect(port)
    device.writer.write(GT06_LOGIN + GT06_12)
    await confirm_discovered(hass, runtime, "gt06", imei)
    # an unknown device's connection is closed: it reconnects, and is answered once added
    async with asyncio.timeout(TIMEOUT):
        assert await device.reader.read() == b""
    await device.close()

    device = await TcpDevice.connect(port)
    await device.send(GT06_LOGIN, gt06_reply(0x01, 9))
    await device.send(GT06_1E, gt06_reply(0x1E, 0x0120))
    await check(
        hass, "gt06", imei, gt06_degrees(0x01C664FD, True), gt06_degrees(0x074DB73F, True),
        speed=2, course=166,
    )  # fmt: skip
    await device.send(GT06_12, gt06_reply(0x12, 3))
    await device.unanswered(b"\x78\x78\x05garbage\r\n", GT06_VXT01, gt06_reply(0x12, 0x01DD))
    await check(
        hass, "gt06", imei, gt06_degrees(0x00915FFB, True), gt06_degrees(0x04C60163, True),
        speed=0, course=346, external_voltage=13.93, ignition=STATE_OFF,
    )  # fmt: skip
    await device.send(GT06_HEARTBEAT, gt06_reply(0x13, 5))
    await hass.async_block_till_done()
    assert float(value(hass, "gt06", imei, "battery")) == pytest.approx(16)  # level 1 of 6
    await device.unanswered(GT06_SOS[:20], GT06_SOS, gt06_reply(0x16, 0x035F))
    sos = (gt06_degrees(0x02C55F2A), gt06_degrees(0x089F9AF9, True))
    await check(hass, "gt06", imei, *sos, course=33)
    # older buffered records and a resend of one already stored
    duplicates = runtime.gateway.stats.duplicates
    await device.send(GT06_26 + GT06_12, gt06_reply(0x26, 7) + gt06_reply(0x12, 3))
    await check(hass, "gt06", imei, *sos, course=33)
    assert runtime.gateway.stats.duplicates == duplicates + 1
    assert await journaled(runtime, imei) == 5
    await device.close()


# ------------------------------------------------------------------------------ TK103

TK103_ID = "088048003342"
# Traccar BP05: login with IMEI 354188048003342 and a fix of 2015-09-17 10:31:15 at
# 13°52.9801'N 100°30.9050'E, 0.0 km/h, course 265.56
TK103_LOGIN = (
    b"(088048003342BP05354188048003342150917A1352.9801N10030.9050E000.0103115265.5600010000"
    b"L000003F9)"
)
# Traccar's handshake, with this device's ID in place of 027044702512
TK103_HANDSHAKE = b"(088048003342BP00088048003342HSO01A4)"
# Traccar BR00 of 088047365460, with this device's ID: 2015-10-24 05:51:48,
# 25°55.3531'S 28°55.3329'E, 4.7 km/h, course 276.17, ignition on
TK103_BR00 = b"(088048003342BR00151024A2555.3531S02855.3329E004.7055148276.1701000000L00009AA3)"
# the same record a day earlier, elsewhere (date and latitude edited)
TK103_OLDER = b"(088048003342BR00151023A2655.3531S02855.3329E004.7055148276.1701000000L00009AA3)"


async def test_tk103_device(hass: HomeAssistant) -> None:
    device_id = TK103_ID
    runtime = await setup_gateway(hass, gateway_entry(protocols=("tk103",)))
    port = runtime.gateway.ports["tk103"]
    device = await TcpDevice.connect(port)
    # unknown: not even the login is answered (AP05 is all a TK103 learns of delivery)
    device.writer.write(TK103_LOGIN + TK103_HANDSHAKE)
    await confirm_discovered(hass, runtime, "tk103", device_id)
    # nothing was answered, and the gateway hung up: the device reconnects
    async with asyncio.timeout(TIMEOUT):
        assert await device.reader.read() == b""
    await device.close()

    device = await TcpDevice.connect(port)
    await device.send(TK103_LOGIN, b"(088048003342AP05)")
    await check(hass, "tk103", device_id, 13 + 52.9801 / 60, 100 + 30.9050 / 60, course=265.56)
    await device.send(TK103_HANDSHAKE, b"(088048003342AP01HSO)")
    # BR00 has no reply: the handshake after it proves it was handled first
    await device.unanswered(TK103_BR00, TK103_HANDSHAKE, b"(088048003342AP01HSO)")
    newest = (-(25 + 55.3531 / 60), 28 + 55.3329 / 60)
    await check(hass, "tk103", device_id, *newest, speed=4.7, course=276.17, ignition=STATE_ON)
    # garbage and a cut frame between frames
    await device.unanswered(
        b"garbage\r\n(088048003342BR0015102" + TK103_OLDER + TK103_BR00,
        TK103_HANDSHAKE,
        b"(088048003342AP01HSO)",
    )
    await check(hass, "tk103", device_id, *newest, speed=4.7)
    assert await journaled(runtime, device_id) == 3  # login fix, BR00 once, the older one
    assert runtime.gateway.stats.duplicates == 1
    await device.close()


# ------------------------------------------------------------------------------ Coban

COBAN_IMEI = "359710049090138"
COBAN_LOGON = b"##,imei:359710049090138,A;"  # Traccar's logon, with this device's IMEI
COBAN_HEARTBEAT = b"359710049090138;"
# Traccar: 2016-06-28 18:29:49 UTC, 40°43.8839'N 113°28.8029'W, 65.26 knots, 271.82°,
# ignition field 1
COBAN_TRACKER = (
    b"imei:359710049090138,tracker,160629022948,,F,182949.000,A,4043.8839,N,11328.8029,W,"
    b"65.26,271.82,,1,0,31.37%,51442,;"
)
# the same message an hour earlier and a degree south (times and latitude edited)
COBAN_OLDER = (
    b"imei:359710049090138,tracker,160629012948,,F,172949.000,A,3943.8839,N,11328.8029,W,"
    b"65.26,271.82,,1,0,31.37%,51442,;"
)


async def test_coban_device(hass: HomeAssistant) -> None:
    imei = COBAN_IMEI
    runtime = await setup_gateway(hass, gateway_entry(protocols=("coban",)))
    device = await TcpDevice.connect(runtime.gateway.ports["coban"])
    # unknown: no LOAD, no ON (what a Coban takes as a server that has its data)
    device.writer.write(COBAN_LOGON + COBAN_TRACKER + COBAN_HEARTBEAT)
    await confirm_discovered(hass, runtime, "coban", imei)
    # an unknown device's connection is closed without an answer; the device reconnects
    async with asyncio.timeout(TIMEOUT):
        assert await device.reader.read() == b""
    await device.close()
    device = await TcpDevice.connect(runtime.gateway.ports["coban"])
    await device.send(COBAN_LOGON, b"LOAD")
    await device.unanswered(COBAN_TRACKER, COBAN_HEARTBEAT, b"ON")
    newest = (40 + 43.8839 / 60, -(113 + 28.8029 / 60))
    await check(hass, "coban", imei, *newest, speed=65.26 * KNOT, course=271.82, ignition=STATE_ON)
    await device.unanswered(
        b"\x00\xffjunk;imei:359710049090138,tracker,16062902" + COBAN_OLDER + COBAN_TRACKER,
        COBAN_HEARTBEAT,
        b"ON",
    )
    await check(hass, "coban", imei, *newest, speed=65.26 * KNOT)
    assert await journaled(runtime, imei) == 2
    assert runtime.gateway.stats.duplicates == 1
    await device.close()


# ------------------------------------------------------------------------------ H02

H02_ID = "4106011660"
# H02FrameDecoderTest: a 32-byte binary frame (2016-11-13 12:45:43) and a V1 text frame
# (12:45:52, 50°35.3129'N 4°31.8211'E, 0.20 knots, course 0) of one device
H02_BINARY = H("2441060116601245431311165035313006004318210e000000fffffbffff0024")
H02_V1 = b"*HQ,4106011660,V1,124552,A,5035.3129,N,00431.8211,E,000.20,000,131116,FFFFFBFF#"
# Traccar's V1 of 1451316409 with this ID: 2.4 knots, course 65, 2015-03-07 (older)
H02_OLDER = b"*HQ,4106011660,V1,030149,A,-23-29.0095,S,-46-51.5852,W,2.4,065,070315,FFFFFFFF#"
H02_HEARTBEAT = b"*HQ,4106011660,HTBT,100#"  # Traccar's HTBT with this ID


def h02_v1_reply(got: bytes) -> None:
    """``*HQ,<id>,V4,V1,<yyyyMMddHHmmss>#``, stamped with the current UTC time."""
    match = re.fullmatch(rb"\*HQ,4106011660,V4,V1,(\d{14})#", got)
    assert match, got
    sent = datetime.strptime(match[1].decode(), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    assert abs(sent - dt_util.utcnow()) < timedelta(seconds=30)


async def read_v1_reply(device: TcpDevice) -> None:
    async with asyncio.timeout(TIMEOUT):
        got = await device.reader.readuntil(b"#")
    h02_v1_reply(got)


async def test_h02_device(hass: HomeAssistant) -> None:
    runtime = await setup_gateway(hass, gateway_entry(protocols=("h02",)))
    port = runtime.gateway.ports["h02"]
    device = await TcpDevice.connect(port)
    # unknown: neither the positions nor the heartbeat are answered
    device.writer.write(H02_BINARY + H02_V1 + H02_HEARTBEAT)
    await confirm_discovered(hass, runtime, "h02", H02_ID)
    # nothing was answered, and the gateway hung up: the device reconnects
    async with asyncio.timeout(TIMEOUT):
        assert await device.reader.read() == b""
    await device.close()

    device = await TcpDevice.connect(port)
    # the binary frame has no reply; the V1 text frame is answered V4,V1,<time>
    device.writer.write(H02_BINARY + H02_V1)
    await read_v1_reply(device)
    await check(
        hass, "h02", H02_ID, 50 + 35.3129 / 60, 4 + 31.8211 / 60, speed=0.20 * KNOT, course=0
    )
    # the binary frame's battery byte 6: 100 %
    assert float(value(hass, "h02", H02_ID, "battery")) == pytest.approx(100)
    await device.send(H02_HEARTBEAT, b"*HQ,4106011660,HTBT#")
    # garbage, a cut frame, an older record and a resend of the newest
    device.writer.write(b"garbage\r\n*HQ,4106011660,V1,1245" + H02_OLDER)
    await read_v1_reply(device)
    device.writer.write(H02_V1)
    await read_v1_reply(device)
    await device.send(H02_HEARTBEAT, b"*HQ,4106011660,HTBT#")
    await check(hass, "h02", H02_ID, 50 + 35.3129 / 60, 4 + 31.8211 / 60, speed=0.20 * KNOT)
    assert await journaled(runtime, H02_ID) == 3
    assert runtime.gateway.stats.duplicates == 1
    await device.close()


async def test_h02_older_record_speed_is_knots(hass: HomeAssistant) -> None:
    runtime = await setup_gateway(hass, gateway_entry([("h02", H02_ID, "Trailer")]))
    device = await TcpDevice.connect(runtime.gateway.ports["h02"])
    device.writer.write(H02_OLDER)
    await read_v1_reply(device)
    await check(
        hass, "h02", H02_ID, -(23 + 29.0095 / 60), -(46 + 51.5852 / 60),
        speed=2.4 * KNOT, course=65, ignition=STATE_ON,
    )  # fmt: skip
    await device.close()


# ------------------------------------------------------------------------------ OsmAnd

OSMAND_QUERY_ID = "123456789012345"
# Traccar: 2017-09-07 05:56:50, speed 40 knots, bearing 7.19889788244, ignition true
OSMAND_QUERY = (
    "/?id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571"
    "&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24"
)
OSMAND_OLDER = (
    "/?id=123456789012345&timestamp=1504763750&lat=40.7132948571&lon=-74.0061408571"
    "&bearing=7.19889788244&speed=40&ignition=true"
)  # a minute earlier, 0.01° south (edited)
OSMAND_JSON_ID = "8737767034"
# the Traccar Client's JSON: 18.67 m/s, heading 63, altitude 35.7, battery level 0.79
OSMAND_JSON = (
    '{"location":{"event":"motionchange","is_moving":false,"uuid":"0e9a2473-a9a7-4c00-997b-'
    'fb97d2154e75","timestamp":"2021-07-21T08:06:34.444Z","odometer":0,"coords":{"latitude":'
    '-6.1148096,"longitude":106.6837015,"accuracy":3.8,"speed":18.67,"speed_accuracy":0.26,'
    '"heading":63,"heading_accuracy":0.28,"altitude":35.7,"altitude_accuracy":3.8},"activity":'
    '{"type":"still","confidence":100},"battery":{"is_charging":false,"level":0.79},"extras":{}},'
    '"device_id":"8737767034"}'
)
OSMAND_FORM_ID = "48241179"
OSMAND_FORM = (
    "id=48241179&timestamp=1750000000&lat=37.4219983&lon=-122.084&speed=1.5&bearing=90"
    "&altitude=5&accuracy=5&batt=80&charge=false"
)
FORM = "application/x-www-form-urlencoded; charset=UTF-8"


async def post(
    session: aiohttp.ClientSession,
    url: str,
    body: str = "",
    headers: Mapping[str, str] | None = None,
) -> int:
    async with session.post(url, data=body.encode(), headers=headers) as response:
        await response.read()
        return response.status


async def test_osmand_devices(hass: HomeAssistant) -> None:
    runtime = await setup_gateway(hass, gateway_entry(protocols=("osmand",)))
    base = f"http://{HOST}:{runtime.gateway.ports['osmand']}"
    json_headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=1)  # every request on one keep-alive connection
    async with aiohttp.ClientSession(connector=connector) as session:
        # unknown: 400 for query and form (the apps retry), 404 for JSON
        assert await post(session, base + OSMAND_QUERY) == 400
        assert await post(session, base + "/", OSMAND_JSON, json_headers) == 404
        assert await post(session, base + "/", OSMAND_FORM, {"Content-Type": FORM}) == 400
        await confirm_discovered(hass, runtime, "osmand", OSMAND_QUERY_ID)
        await confirm_discovered(hass, runtime, "osmand", OSMAND_JSON_ID)
        await confirm_discovered(hass, runtime, "osmand", OSMAND_FORM_ID)

        assert await post(session, base + OSMAND_QUERY) == 200
        await check(
            hass, "osmand", OSMAND_QUERY_ID, 40.7232948571, -74.0061408571,
            speed=40 * KNOT, course=7.19889788244, ignition=STATE_ON,
        )  # fmt: skip
        assert await post(session, base + "/", OSMAND_JSON, json_headers) == 200
        await check(
            hass, "osmand", OSMAND_JSON_ID, -6.1148096, 106.6837015,
            speed=18.67 * 3.6, course=63, altitude=35.7, battery=79,
        )  # fmt: skip
        assert await post(session, base + "/", OSMAND_FORM, {"Content-Type": FORM}) == 200
        await check(
            hass, "osmand", OSMAND_FORM_ID, 37.4219983, -122.084,
            speed=1.5 * KNOT, course=90, altitude=5, battery=80,
        )  # fmt: skip
        # garbage between requests: refused, the next request is fine
        assert await post(session, base + "/?id=123456789012345&lat=x") == 400
        assert await post(session, base + "/", "{not json", json_headers) == 400
        assert await post(session, base + OSMAND_OLDER) == 200
        await check(hass, "osmand", OSMAND_QUERY_ID, 40.7232948571, -74.0061408571)
        # a resend
        duplicates = runtime.gateway.stats.duplicates
        assert await post(session, base + OSMAND_QUERY) == 200
        assert runtime.gateway.stats.duplicates == duplicates + 1
        assert await journaled(runtime, OSMAND_QUERY_ID) == 2
    assert runtime.gateway.stats.errors == 2
