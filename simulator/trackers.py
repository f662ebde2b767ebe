"""Simulated GPS trackers that speak the real wire protocols over real sockets.

A :class:`VirtualTracker` drives a route to a tracker server (ThingBridge's gateway, or
Traccar) the way a device does: it records one fix per route point into its own buffer,
logs in, sends the buffer, and forgets a fix only once the server acknowledged it; after a
lost connection or a missing ACK it reconnects and resends what is still buffered.

========== ============================================================ =====================
protocol   what it sends                                                counts as the ACK
========== ============================================================ =====================
teltonika  IMEI login (waits for ``01``), Codec 8 AVL packets of         the record count
           ``batch`` records with CRC-16/IBM (TCP); or UDP datagrams     (``00000005`` …);
           ``[len][packet id][01][AVL id][IMEI] codec 8 …``              UDP ``0005 id 01 …``
gt06       login 0x01 (waits for the echo), then 0x12 GPS+LBS frames     each frame's echo
           with CRC-16/X-25, then a 0x13 status (voltage level); every   ``7878 05 12 serial``
           reply's CRC and serial are checked
h02        ``*HQ,<id>,V1,…#`` (TCP or UDP), then a ``HTBT`` heartbeat    ``*HQ,<id>,V4,V1,…#``
           with the battery level (echoed ``*HQ,<id>,HTBT#``)
tk103      ``(<id>BP00…)`` handshake, ``BR00`` positions, a ``ZC20``     the second handshake
           battery report, handshake again (TK103 has no record ACK:     answer (a barrier)
           the answer to the closing handshake shows the server read
           everything before it)
coban      ``##,imei:…,A;`` logon, ``imei:…,tracker,…;`` positions,      ``ON`` (a barrier,
           then a heartbeat ``<imei>;``                                  as for TK103)
osmand     HTTP POST ``/?id=…&lat=…`` (empty body, knots), or a JSON     HTTP 2xx
           or form body (``osmand_format``)
========== ============================================================ =====================

Teltonika records carry the battery level (IO 113) and voltage (IO 67) besides ignition,
movement, GSM signal, external voltage and odometer. Fix times are the device's clock: by
default the route is recorded so that its last fix is "now" (the device uploads what it
recorded), so no fix is dated in the future.

Frame encoders are written here from the vendors' descriptions (``gps-trackers.md`` §2)
and independently of ThingBridge's decoders: the simulator is a separate peer and never
imports the integration. ``python -m simulator trackers --help`` (once wired) or
:func:`main` runs one from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
from collections.abc import Sequence
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
import math
from typing import Literal

import aiohttp

type Outcome = Literal["done", "rejected", "no_ack", "disconnected", "unreachable"]

DEFAULT_PORTS = {
    "teltonika": 5027,
    "gt06": 5023,
    "tk103": 5002,
    "coban": 5001,
    "h02": 5013,
    "osmand": 5055,
}
"""Traccar's default ports, which device configurations assume."""
UDP_PROTOCOLS = frozenset({"teltonika", "h02"})
KMH_PER_KNOT = 1.852
BATTERY_PERCENT = 92
"""The internal battery's charge the simulated trackers report, where the protocol carries it."""
BATTERY_MV = 4_100
"""The internal battery's voltage (Teltonika IO 67, TK103 ``ZC20``)."""
EARTH_RADIUS_M = 6_371_008.8


# -- checksums ---------------------------------------------------------------------------------


def _crc_table(poly_reflected: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly_reflected if crc & 1 else crc >> 1
        table.append(crc)
    return table


_IBM_TABLE = _crc_table(0xA001)
_X25_TABLE = _crc_table(0x8408)


def crc16_ibm(data: bytes) -> int:
    """CRC-16/IBM (ARC): reflected 0x8005, init 0 (Teltonika). ``b"123456789"`` → 0xBB3D."""
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _IBM_TABLE[(crc ^ byte) & 0xFF]
    return crc


def crc16_x25(data: bytes) -> int:
    """CRC-16/X-25: reflected 0x1021, init and xorout 0xFFFF (GT06). ``b"123456789"`` → 0x906E."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _X25_TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


# -- fixes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fix:
    """One recorded GPS fix.

    Attributes:
        index: Position in the route.
        time: The device's timestamp (UTC, whole seconds).
        latitude: Degrees.
        longitude: Degrees.
        speed_kmh: Speed towards the next point.
        course_deg: Bearing towards the next point (0 = north).
        altitude_m: Metres.
        odometer_m: Distance travelled since the first point.
    """

    index: int
    time: datetime
    latitude: float
    longitude: float
    speed_kmh: float = 0.0
    course_deg: float = 0.0
    altitude_m: float = 100.0
    odometer_m: float = 0.0


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def _bearing(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(y, x)) % 360.0


def make_fixes(
    route: Sequence[tuple[float, float]],
    *,
    start: datetime,
    interval: float = 10.0,
    first_index: int = 0,
) -> list[Fix]:
    """One fix per route point, ``interval`` seconds apart, with speed and course."""
    fixes = []
    odometer = 0.0
    for i, point in enumerate(route):
        nxt = route[i + 1] if i + 1 < len(route) else None
        dist = _distance_m(point, nxt) if nxt else 0.0
        fixes.append(
            Fix(
                index=first_index + i,
                time=start + timedelta(seconds=round(i * interval)),
                latitude=point[0],
                longitude=point[1],
                speed_kmh=min(250.0, dist / interval * 3.6) if interval > 0 else 0.0,
                course_deg=round(_bearing(point, nxt)) % 360 if nxt and dist > 0 else 0.0,
                odometer_m=odometer,
            )
        )
        odometer += dist
    return fixes


def circle_route(
    center: tuple[float, float], radius_m: float, points: int
) -> list[tuple[float, float]]:
    """``points`` points on a circle around ``center`` (a lap, clockwise from north)."""
    lat0, lon0 = center
    out = []
    for i in range(points):
        angle = 2 * math.pi * i / max(points, 1)
        dlat = radius_m * math.cos(angle) / EARTH_RADIUS_M
        dlon = radius_m * math.sin(angle) / (EARTH_RADIUS_M * math.cos(math.radians(lat0)))
        out.append((round(lat0 + math.degrees(dlat), 6), round(lon0 + math.degrees(dlon), 6)))
    return out


# -- Teltonika ---------------------------------------------------------------------------------


def teltonika_login(imei: str) -> bytes:
    """``[len:2][IMEI]``."""
    return len(imei).to_bytes(2, "big") + imei.encode("ascii")


def teltonika_record(fix: Fix) -> bytes:
    """One Codec 8 AVL record: time, priority, GPS element, IO (239, 240, 21, 113, 66, 67, 16)."""
    moving = fix.speed_kmh > 0.5
    io = (
        b"\x00\x07"  # event IO ID 0, 7 IO values
        # N1: ignition, movement, GSM signal, battery level (%)
        + bytes((4, 239, 1, 240, int(moving), 21, 4, 113, BATTERY_PERCENT))
        + bytes((2, 66))
        + (12_800).to_bytes(2, "big")  # N2: external voltage 12.8 V
        + bytes((67,))
        + BATTERY_MV.to_bytes(2, "big")  # N2: battery voltage (mV)
        + bytes((1, 16))
        + round(fix.odometer_m).to_bytes(4, "big")  # N4: odometer
        + b"\x00"  # N8: none
    )
    millis = (fix.time - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    return (
        millis.to_bytes(8, "big")
        + b"\x01"
        + round(fix.longitude * 1e7).to_bytes(4, "big", signed=True)
        + round(fix.latitude * 1e7).to_bytes(4, "big", signed=True)
        + round(fix.altitude_m).to_bytes(2, "big", signed=True)
        + round(fix.course_deg).to_bytes(2, "big")
        + bytes((9,))
        + round(fix.speed_kmh).to_bytes(2, "big")
        + io
    )


def teltonika_data(fixes: Sequence[Fix]) -> bytes:
    """``codec N1 records N2`` for Codec 8."""
    count = bytes((len(fixes),))
    return b"\x08" + count + b"".join(teltonika_record(f) for f in fixes) + count


def teltonika_avl(fixes: Sequence[Fix]) -> bytes:
    """A TCP AVL packet: preamble, data length, Codec 8 data, CRC-16/IBM in 4 bytes."""
    data = teltonika_data(fixes)
    return (
        b"\x00\x00\x00\x00"
        + len(data).to_bytes(4, "big")
        + data
        + crc16_ibm(data).to_bytes(4, "big")
    )


def teltonika_udp(imei: str, fixes: Sequence[Fix], packet_id: int, avl_packet_id: int) -> bytes:
    """A UDP datagram: length, packet id, 01, AVL packet id, IMEI, Codec 8 data (no CRC)."""
    body = (
        (packet_id & 0xFFFF).to_bytes(2, "big")
        + b"\x01"
        + bytes((avl_packet_id & 0xFF,))
        + teltonika_login(imei)
        + teltonika_data(fixes)
    )
    return len(body).to_bytes(2, "big") + body


def teltonika_udp_ack(packet_id: int, avl_packet_id: int, count: int) -> bytes:
    """The server's UDP answer as the vendor documents it (packet id echoed)."""
    return b"\x00\x05" + (packet_id & 0xFFFF).to_bytes(2, "big") + bytes((1, avl_packet_id, count))


# -- GT06 --------------------------------------------------------------------------------------


def gt06_frame(protocol_number: int, content: bytes, serial: int) -> bytes:
    """``78 78 len proto content serial CRC-X.25 0D 0A`` (len = 5 + content)."""
    body = (
        bytes((5 + len(content), protocol_number)) + content + (serial & 0xFFFF).to_bytes(2, "big")
    )
    return b"\x78\x78" + body + crc16_x25(body).to_bytes(2, "big") + b"\r\n"


def gt06_reply(protocol_number: int, serial: int) -> bytes:
    """The server's standard answer: the protocol number and serial echoed."""
    return gt06_frame(protocol_number, b"", serial)


def gt06_login(imei: str, serial: int) -> bytes:
    """Login 0x01: the IMEI as 8 BCD bytes (leading 0), type code, time zone UTC+0."""
    return gt06_frame(0x01, bytes.fromhex(imei.rjust(16, "0")) + b"\x36\x08\x00\x00", serial)


def gt06_location(fix: Fix, serial: int) -> bytes:
    """GPS+LBS 0x12: time, satellites, coordinates (minutes x 30000), speed, course, cell."""
    t = fix.time
    flags = (round(fix.course_deg) % 360) | (1 << 12)  # GPS positioned
    if fix.latitude >= 0:
        flags |= 1 << 10  # north
    if fix.longitude < 0:
        flags |= 1 << 11  # west
    content = (
        bytes((t.year - 2000, t.month, t.day, t.hour, t.minute, t.second))
        + bytes((0xC9,))  # 12-byte GPS block, 9 satellites
        + round(abs(fix.latitude) * 1_800_000).to_bytes(4, "big")
        + round(abs(fix.longitude) * 1_800_000).to_bytes(4, "big")
        + bytes((min(255, round(fix.speed_kmh)),))
        + flags.to_bytes(2, "big")
        + bytes.fromhex("01f6 01 006e 0055da")  # MCC 502, MNC 1, LAC 110, cell 21978
    )
    return gt06_frame(0x12, content, serial)


def gt06_heartbeat(serial: int) -> bytes:
    """Status 0x13: terminal info (ignition on), voltage level 4, GSM 4, no alarm."""
    return gt06_frame(0x13, bytes((0x02, 4, 4, 0, 2)), serial)


# -- text protocols ----------------------------------------------------------------------------


def _ddmm(value: float, degree_digits: int) -> str:
    degrees = int(abs(value))
    minutes = (abs(value) - degrees) * 60
    text = f"{degrees:0{degree_digits}d}{minutes:07.4f}"
    if text.endswith("60.0000"):  # rounding carried into the next degree
        text = f"{degrees + 1:0{degree_digits}d}00.0000"
    return text


def tk103_handshake(device_id: str) -> bytes:
    """``(<id>BP00<id>HSO)``; the answer is ``(<id>AP01HSO)``."""
    return f"({device_id}BP00{device_id}HSO)".encode("ascii")


def tk103_position(device_id: str, fix: Fix) -> bytes:
    """A fixed-width ``BR00`` report (date yymmdd, ddmm.mmmm, speed km/h, L + hex mileage)."""
    t = fix.time
    return (
        f"({device_id}BR00{t:%y%m%d}A"
        f"{_ddmm(fix.latitude, 2)}{'N' if fix.latitude >= 0 else 'S'}"
        f"{_ddmm(fix.longitude, 3)}{'E' if fix.longitude >= 0 else 'W'}"
        f"{min(fix.speed_kmh, 999.9):05.1f}{t:%H%M%S}{fix.course_deg:06.2f}"
        f"01000000L{round(fix.odometer_m):08X})"
    ).encode("ascii")


def tk103_battery(device_id: str, fix: Fix) -> bytes:
    """A ``ZC20`` battery report (the server does not answer it).

    Date ddmmyy, time, level code (5: 80 %), battery voltage (1/100 V), power voltage (1/10 V),
    installed.
    """
    t = fix.time
    return f"({device_id},ZC20,{t:%d%m%y},{t:%H%M%S},5,{BATTERY_MV // 10},128,1)".encode("ascii")


def coban_logon(imei: str) -> bytes:
    """``##,imei:<imei>,A;``; the answer is ``LOAD``."""
    return f"##,imei:{imei},A;".encode("ascii")


def coban_heartbeat(imei: str) -> bytes:
    """``<imei>;``; the answer is ``ON``."""
    return f"{imei};".encode("ascii")


def coban_position(imei: str, fix: Fix) -> bytes:
    """An ``imei:…,tracker,…`` report (local time = UTC here, speed in knots)."""
    t = fix.time
    return (
        f"imei:{imei},tracker,{t:%y%m%d%H%M%S},,F,{t:%H%M%S}.000,A,"
        f"{_ddmm(fix.latitude, 2)},{'N' if fix.latitude >= 0 else 'S'},"
        f"{_ddmm(fix.longitude, 3)},{'E' if fix.longitude >= 0 else 'W'},"
        f"{fix.speed_kmh / KMH_PER_KNOT:.2f},{fix.course_deg:.0f};"
    ).encode("ascii")


def h02_position(device_id: str, fix: Fix) -> bytes:
    """``*HQ,<id>,V1,hhmmss,A,ddmm.mmmm,N,dddmm.mmmm,E,knots,course,ddmmyy,status#``."""
    t = fix.time
    return (
        f"*HQ,{device_id},V1,{t:%H%M%S},A,"
        f"{_ddmm(fix.latitude, 2)},{'N' if fix.latitude >= 0 else 'S'},"
        f"{_ddmm(fix.longitude, 3)},{'E' if fix.longitude >= 0 else 'W'},"
        f"{fix.speed_kmh / KMH_PER_KNOT:06.2f},{fix.course_deg:03.0f},{t:%d%m%y},FFFFFBFF#"
    ).encode("ascii")


def h02_heartbeat(device_id: str) -> bytes:
    """``*HQ,<id>,HTBT,<battery %>#``; the server echoes ``*HQ,<id>,HTBT#``."""
    return f"*HQ,{device_id},HTBT,{BATTERY_PERCENT}#".encode("ascii")


def osmand_params(device_id: str, fix: Fix) -> dict[str, str]:
    """The Traccar Client query parameters (speed in knots, time in Unix seconds)."""
    seconds = (fix.time - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)
    return {
        "id": device_id,
        "timestamp": str(seconds),
        "lat": f"{fix.latitude:.6f}",
        "lon": f"{fix.longitude:.6f}",
        "speed": f"{fix.speed_kmh / KMH_PER_KNOT:.2f}",
        "bearing": f"{fix.course_deg:.1f}",
        "altitude": f"{fix.altitude_m:.1f}",
        "accuracy": "5.0",
        "batt": "87",
    }


def osmand_json(device_id: str, fix: Fix) -> dict[str, object]:
    """The Traccar Client 9.x JSON body (speed in m/s, ISO time)."""
    return {
        "device_id": device_id,
        "location": {
            "timestamp": fix.time.isoformat().replace("+00:00", "Z"),
            "coords": {
                "latitude": fix.latitude,
                "longitude": fix.longitude,
                "speed": fix.speed_kmh / 3.6,
                "heading": fix.course_deg,
                "altitude": fix.altitude_m,
                "accuracy": 5.0,
            },
            "battery": {"level": 0.87, "is_charging": False},
            "is_moving": fix.speed_kmh > 0.5,
        },
    }


# -- the device --------------------------------------------------------------------------------


class TrackerProtocolError(Exception):
    """The server answered with bytes that are not what the protocol prescribes."""


class TrackerGaveUp(Exception):  # noqa: N818 - named after what happened
    """:meth:`VirtualTracker.run` ran out of time with fixes still unacknowledged."""


class VirtualTracker:
    """A simulated tracker with a buffer that empties only on acknowledgement.

    Args:
        protocol: ``teltonika``, ``gt06``, ``tk103``, ``coban``, ``h02`` or ``osmand``.
        device_id: IMEI (15 digits for Teltonika/GT06/Coban), the TK103 12-character ID,
            the H02 ID, or the OsmAnd device identifier.
        route: ``(latitude, longitude)`` points; one fix is recorded per point.
        host: The server's address.
        port: The server's port (TCP, UDP or HTTP as the transport needs).
        transport: ``"tcp"`` (``"http"`` for OsmAnd) or ``"udp"`` (Teltonika, H02).
        start: The device time of the first fix (default: so that the last fix is now, in
            whole seconds: the device recorded the route and uploads its buffer, as a real one
            does; no fix is dated in the future).
        interval: Device seconds between fixes.
        batch: Records per Teltonika packet.
        ack_timeout: Seconds to wait for a reply before giving up on the connection.
        pace: Wall-clock seconds between two sends (0: as fast as the ACKs allow).
        osmand_format: ``"query"`` (legacy app), ``"json"`` (9.x) or ``"form"`` (10.1).

    Attributes:
        pending: Fixes not yet acknowledged, oldest first (the device's buffer).
        acked: Fixes the server acknowledged, in order.
        replies: Every reply received, raw (HTTP: the status as text).
        sent: How many data frames/requests were sent (resends included).
        outcomes: The outcome of each connection (:meth:`send_once`).
    """

    def __init__(
        self,
        protocol: str,
        device_id: str,
        route: Sequence[tuple[float, float]],
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        transport: str | None = None,
        start: datetime | None = None,
        interval: float = 10.0,
        batch: int = 4,
        ack_timeout: float = 5.0,
        pace: float = 0.0,
        osmand_format: str = "query",
    ) -> None:
        """Record the route into the buffer; nothing is sent until :meth:`run`."""
        if protocol not in DEFAULT_PORTS:
            raise ValueError(
                f"unknown protocol {protocol!r}; choose from {', '.join(DEFAULT_PORTS)}"
            )
        self.transport = transport or ("http" if protocol == "osmand" else "tcp")
        if self.transport == "udp" and protocol not in UDP_PROTOCOLS:
            raise ValueError(f"{protocol} is simulated over TCP only")
        if protocol in ("teltonika", "gt06", "coban") and not (
            device_id.isdigit() and len(device_id) == 15
        ):
            raise ValueError(f"{protocol} needs a 15-digit IMEI, got {device_id!r}")
        if protocol == "tk103" and len(device_id) != 12:
            raise ValueError("tk103 needs a 12-character device ID")
        if not 1 <= batch <= 255:
            raise ValueError("batch must be 1-255")
        if osmand_format not in ("query", "json", "form"):
            raise ValueError("osmand_format must be query, json or form")
        self.protocol = protocol
        self.device_id = device_id
        self.host = host
        self.port = port if port is not None else DEFAULT_PORTS[protocol]
        self.batch = batch if protocol == "teltonika" else 1
        self.ack_timeout = ack_timeout
        self.pace = pace
        self.osmand_format = osmand_format
        begin = start or (
            datetime.now(UTC).replace(microsecond=0)
            - timedelta(seconds=round(max(len(route) - 1, 0) * interval))
        )
        self.pending: deque[Fix] = deque(make_fixes(route, start=begin, interval=interval))
        self.acked: list[Fix] = []
        self.replies: list[bytes] = []
        self.sent = 0
        self.outcomes: list[Outcome] = []
        self._serial = 0
        self._packet_id = 0

    # -- driving ---------------------------------------------------------------------------

    def record(
        self, route: Sequence[tuple[float, float]], *, start: datetime, interval: float = 10.0
    ) -> None:
        """Add more fixes to the buffer (the device keeps recording while offline)."""
        first = (self.acked[-1].index + 1 if self.acked else 0) + len(self.pending)
        self.pending.extend(make_fixes(route, start=start, interval=interval, first_index=first))

    async def run(self, *, give_up_after: float = 30.0, retry_delay: float = 0.05) -> None:
        """Connect, send and reconnect until the buffer is empty.

        Raises:
            TrackerGaveUp: Fixes are still unacknowledged after ``give_up_after`` seconds.
            TrackerProtocolError: The server sent a malformed reply.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + give_up_after
        while self.pending:
            if loop.time() > deadline:
                raise TrackerGaveUp(
                    f"{self.protocol} {self.device_id}: {len(self.pending)} fix(es) unacknowledged "
                    f"after {give_up_after:g} s; outcomes {self.outcomes[-3:]}"
                )
            outcome = await self.send_once()
            if outcome != "done":
                await asyncio.sleep(retry_delay)

    async def send_once(self) -> Outcome:
        """One connection: log in, send the buffer until it is empty or the server fails us."""
        try:
            if self.transport == "http":
                outcome = await self._http_session()
            elif self.transport == "udp":
                outcome = await self._udp_session()
            else:
                outcome = await self._tcp_session()
        except (ConnectionRefusedError, TimeoutError, OSError) as err:
            outcome = "unreachable" if isinstance(err, ConnectionRefusedError) else "disconnected"
        self.outcomes.append(outcome)
        return outcome

    def _next_serial(self) -> int:
        self._serial = (self._serial + 1) & 0xFFFF
        return self._serial

    def _ack(self, count: int) -> None:
        for _ in range(count):
            self.acked.append(self.pending.popleft())

    async def _pause(self) -> None:
        if self.pace > 0:
            await asyncio.sleep(self.pace)

    # -- TCP -------------------------------------------------------------------------------

    async def _tcp_session(self) -> Outcome:
        async with asyncio.timeout(self.ack_timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            return await _TCP_SESSIONS[self.protocol](self, reader, writer)
        except asyncio.IncompleteReadError, ConnectionError:
            return "disconnected"
        except TimeoutError:
            return "no_ack"
        finally:
            writer.transport.abort()

    async def _read(self, reader: asyncio.StreamReader, size: int) -> bytes:
        async with asyncio.timeout(self.ack_timeout):
            data = await reader.readexactly(size)
        self.replies.append(data)
        return data

    async def _read_until(self, reader: asyncio.StreamReader, end: bytes) -> bytes:
        async with asyncio.timeout(self.ack_timeout):
            data = await reader.readuntil(end)
        self.replies.append(data)
        return data

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    async def _teltonika_tcp(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Outcome:
        await self._send(writer, teltonika_login(self.device_id))
        answer = await self._read(reader, 1)
        if answer == b"\x00":
            return "rejected"
        if answer != b"\x01":
            raise TrackerProtocolError(f"teltonika login answer {answer.hex()}, expected 01 or 00")
        while self.pending:
            fixes = list(self.pending)[: self.batch]
            await self._send(writer, teltonika_avl(fixes))
            self.sent += 1
            ack = await self._read(reader, 4)
            if int.from_bytes(ack, "big") != len(fixes):
                return "no_ack"  # the count does not match: the device resends
            self._ack(len(fixes))
            await self._pause()
        return "done"

    async def _gt06_tcp(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Outcome:
        serial = self._next_serial()
        await self._send(writer, gt06_login(self.device_id, serial))
        try:
            answer = await self._read(reader, 10)
        except TimeoutError:
            return "rejected"  # GT06 servers stay silent to unknown IMEIs
        self._expect(answer, gt06_reply(0x01, serial), "login")
        while self.pending:
            serial = self._next_serial()
            await self._send(writer, gt06_location(self.pending[0], serial))
            self.sent += 1
            self._expect(await self._read(reader, 10), gt06_reply(0x12, serial), "location")
            self._ack(1)
            await self._pause()
        serial = self._next_serial()
        await self._send(writer, gt06_heartbeat(serial))
        self._expect(await self._read(reader, 10), gt06_reply(0x13, serial), "heartbeat")
        return "done"

    async def _h02_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Outcome:
        while self.pending:
            await self._send(writer, h02_position(self.device_id, self.pending[0]))
            self.sent += 1
            self._check_h02(await self._read_until(reader, b"#"))
            self._ack(1)
            await self._pause()
        await self._send(writer, h02_heartbeat(self.device_id))
        self._expect(await self._read_until(reader, b"#"), self._h02_echo, "heartbeat")
        return "done"

    async def _tk103_tcp(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Outcome:
        expected = f"({self.device_id}AP01HSO)".encode("ascii")
        await self._send(writer, tk103_handshake(self.device_id))
        self._expect(await self._read_until(reader, b")"), expected, "handshake")
        count = 0
        for fix in list(self.pending):
            await self._send(writer, tk103_position(self.device_id, fix))
            self.sent += 1
            count += 1
            await self._pause()
        if count:
            await self._send(writer, tk103_battery(self.device_id, self.pending[count - 1]))
        await self._send(writer, tk103_handshake(self.device_id))  # barrier: no record ACK
        self._expect(await self._read_until(reader, b")"), expected, "handshake")
        self._ack(count)
        return "done"

    async def _coban_tcp(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Outcome:
        await self._send(writer, coban_logon(self.device_id))
        self._expect(await self._read(reader, 4), b"LOAD", "logon")
        count = 0
        for fix in list(self.pending):
            await self._send(writer, coban_position(self.device_id, fix))
            self.sent += 1
            count += 1
            await self._pause()
        await self._send(writer, coban_heartbeat(self.device_id))  # barrier: no record ACK
        self._expect(await self._read(reader, 2), b"ON", "heartbeat")
        self._ack(count)
        return "done"

    def _expect(self, got: bytes, expected: bytes, what: str) -> None:
        if got != expected:
            raise TrackerProtocolError(
                f"{self.protocol} {what} answer {got.hex()}, expected {expected.hex()}"
            )

    @property
    def _h02_echo(self) -> bytes:
        return f"*HQ,{self.device_id},HTBT#".encode("ascii")

    def _check_h02(self, answer: bytes) -> None:
        prefix = f"*HQ,{self.device_id},V4,V1,".encode("ascii")
        stamp = answer[len(prefix) : -1]
        if not answer.startswith(prefix) or len(stamp) != 14 or not stamp.isdigit():
            raise TrackerProtocolError(
                f"h02 answer {answer!r}, expected {prefix!r}<yyyyMMddHHmmss>#"
            )

    # -- UDP -------------------------------------------------------------------------------

    async def _udp_session(self) -> Outcome:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(queue), remote_addr=(self.host, self.port)
        )
        try:
            while self.pending:
                if self.protocol == "teltonika":
                    fixes = list(self.pending)[: self.batch]
                    self._packet_id = (self._packet_id + 1) & 0xFFFF
                    avl_id = self._packet_id & 0xFF
                    transport.sendto(teltonika_udp(self.device_id, fixes, self._packet_id, avl_id))
                    expected = teltonika_udp_ack(self._packet_id, avl_id, len(fixes))
                else:
                    fixes = [self.pending[0]]
                    transport.sendto(h02_position(self.device_id, fixes[0]))
                self.sent += 1
                try:
                    async with asyncio.timeout(self.ack_timeout):
                        answer = await queue.get()
                except TimeoutError:
                    return "no_ack"
                self.replies.append(answer)
                if self.protocol == "teltonika":
                    self._expect(answer, expected, "UDP")
                else:
                    self._check_h02(answer)
                self._ack(len(fixes))
                await self._pause()
            if self.protocol == "h02":
                transport.sendto(h02_heartbeat(self.device_id))
                try:
                    async with asyncio.timeout(self.ack_timeout):
                        answer = await queue.get()
                except TimeoutError:
                    return "no_ack"
                self.replies.append(answer)
                self._expect(answer, self._h02_echo, "heartbeat")
            return "done"
        finally:
            transport.close()

    # -- HTTP ------------------------------------------------------------------------------

    async def _http_session(self) -> Outcome:
        url = f"http://{self.host}:{self.port}/"
        timeout = aiohttp.ClientTimeout(total=self.ack_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while self.pending:
                fix = self.pending[0]
                if self.osmand_format == "json":
                    request = session.post(url, json=osmand_json(self.device_id, fix))
                elif self.osmand_format == "form":
                    request = session.post(url, data=osmand_params(self.device_id, fix))
                else:
                    request = session.post(url, params=osmand_params(self.device_id, fix))
                self.sent += 1
                try:
                    async with request as response:
                        await response.read()
                        status = response.status
                except aiohttp.ClientError:
                    return "disconnected"
                self.replies.append(str(status).encode("ascii"))
                if status in (400, 404):
                    return "rejected"
                if not 200 <= status < 300:
                    return "no_ack"
                self._ack(1)
                await self._pause()
        return "done"


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[bytes]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait(data)


_TCP_SESSIONS = {
    "teltonika": VirtualTracker._teltonika_tcp,  # noqa: SLF001
    "gt06": VirtualTracker._gt06_tcp,  # noqa: SLF001
    "h02": VirtualTracker._h02_tcp,  # noqa: SLF001
    "tk103": VirtualTracker._tk103_tcp,  # noqa: SLF001
    "coban": VirtualTracker._coban_tcp,  # noqa: SLF001
}


# -- command line ------------------------------------------------------------------------------


def build_parser(prog: str = "python -m simulator trackers") -> argparse.ArgumentParser:
    """The command-line options of :func:`main`."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Drive simulated GPS trackers around a circle to a tracker server.",
    )
    parser.add_argument("protocol", choices=sorted(DEFAULT_PORTS))
    parser.add_argument(
        "--device-id",
        default=None,
        help="IMEI/ID (default: 356307042441013, or 088048003342 for tk103)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="server address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="server port (default: Traccar's)")
    parser.add_argument("--udp", action="store_true", help="use UDP (teltonika, h02)")
    parser.add_argument("--points", type=int, default=20, help="fixes on the lap (default 20)")
    parser.add_argument(
        "--center", default="54.6872,25.2797", help="lat,lon of the lap's centre (default Vilnius)"
    )
    parser.add_argument("--radius", type=float, default=500.0, help="lap radius in metres")
    parser.add_argument("--interval", type=float, default=10.0, help="device seconds between fixes")
    parser.add_argument("--pace", type=float, default=1.0, help="wall seconds between sends")
    parser.add_argument("--batch", type=int, default=4, help="records per Teltonika packet")
    parser.add_argument(
        "--format", dest="osmand_format", default="query", choices=("query", "json", "form")
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="give up after this many seconds"
    )
    return parser


async def _drive(args: argparse.Namespace) -> int:
    lat, _, lon = args.center.partition(",")
    device_id = args.device_id or (
        "088048003342" if args.protocol == "tk103" else "356307042441013"
    )
    tracker = VirtualTracker(
        args.protocol,
        device_id,
        circle_route((float(lat), float(lon)), args.radius, args.points),
        args.host,
        args.port,
        transport="udp" if args.udp else None,
        interval=args.interval,
        pace=args.pace,
        batch=args.batch,
        osmand_format=args.osmand_format,
    )
    try:
        await tracker.run(give_up_after=args.timeout, retry_delay=min(5.0, max(args.pace, 0.5)))
    except (TrackerGaveUp, TrackerProtocolError) as err:
        print(f"error: {err}", flush=True)
        return 1
    finally:
        summary = {
            "acked": len(tracker.acked),
            "pending": len(tracker.pending),
            "sent": tracker.sent,
        }
        print(
            json.dumps({"protocol": args.protocol, "device_id": device_id, **summary}), flush=True
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one simulated tracker from the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.udp and args.protocol not in UDP_PROTOCOLS:
        parser.error(f"--udp is simulated for {', '.join(sorted(UDP_PROTOCOLS))} only")
    if args.points < 1:
        parser.error("--points must be at least 1")
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_drive(args))
    return 130


if __name__ == "__main__":
    raise SystemExit(main())
