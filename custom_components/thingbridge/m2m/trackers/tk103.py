"""TK103 "(…)" text protocol (TK103-2 and Xexun-style clones; Traccar's ``tk103``).

Written by hand from the vendor's "GPS Tracker TK103 Protocol" description and the
variants real devices send; it is a regular-expression job no library covers.

A frame is ASCII between ``(`` and ``)`` (``$…$`` free text inside may contain ``)``).
Fixed-width form: ``(`` + 12-character device ID + 4-character command + body + ``)``;
comma form: ``(ID,COMMAND,field,…)``. No checksum.

- ``BP00`` handshake → :class:`Heartbeat`; reply ``(<id>AP01HSO)``.
- ``BP05`` login (IMEI, then usually a position) → :class:`Login` [+ :class:`Position`];
  reply ``(<id>AP05)``. Both replies go to any device (``reject_reply`` is the same), as
  Traccar answers them before the device lookup.
- ``BR00``/``BR01``/``BO01``/``BQ81``/``ZCxx``/``DWxx``… with a position → :class:`Position`
  (fixed form: date ``yymmdd``; comma form: ``ddmmyy``; speed km/h; ``L`` + hex mileage in
  metres); without one → :class:`Alarm` or :class:`StatusReport` (cell lists).
- ``ZC20`` battery report → :class:`StatusReport`.

Other commands are :class:`UnsupportedMessage` without reply.
"""

from __future__ import annotations

import re

from ._text import TextDecoder
from ._util import check_coordinates, parse_ddmm, parse_float, parse_int, utc_datetime
from .errors import FieldError, FrameError, ProtocolError, UnsupportedMessage
from .model import Alarm, AnyMessage, Frame, Heartbeat, IoValue, Login, Position, StatusReport
from .stream import DEFAULT_MAX_BUFFER, Item

PROTOCOL = "tk103"

_FIXED = re.compile(
    r"(?P<date>\d{6})(?P<valid>[AV])(?P<lat>\d+\.\d+)(?P<ns>[NS])(?P<lon>\d+\.\d+)(?P<ew>[EW])"
    r"(?P<speed>[ \d.]{5})(?P<time>\d{6})(?P<course>[ \d.]{6})?"
    r"(?:(?P<io>[01]{2}[0-9A-Fa-f]{6})(?:L(?P<odo>[0-9A-Fa-f]{1,12}))?)?"
)
_COMMA = re.compile(
    r"(?P<date>\d{6}),(?P<valid>[AV]),(?P<lat>-?\d+\.\d+),?(?P<ns>[NS]),"
    r"(?P<lon>-?\d+\.\d+),?(?P<ew>[EW]),(?P<speed>[\d.]+),(?P<time>\d{6})"
    r"(?:,(?P<course>[\d.]+))?(?P<extra>,.*)?$",
    re.DOTALL,
)
_CELL = re.compile(r"\{(\d+),(\d+),(\d+),(\d+)\}")

_BO01 = {
    0: "power_cut",
    1: "accident",
    2: "sos",
    3: "vibration",
    4: "low_speed",
    5: "overspeed",
    6: "geofence_exit",
}
_BQ81 = {
    0: "low_battery",
    1: "overspeed",
    2: "idle",
    3: "acceleration",
    4: "braking",
    5: "temperature",
}
_EVENTS: dict[str, tuple[str | None, bool | None]] = {}
for _codes, _alarm, _ign in (
    (("ZC11", "DW31", "DW51"), "movement", None),
    (("ZC12", "DW32", "DW52"), "low_battery", None),
    (("ZC13", "DW33", "DW53"), "power_cut", None),
    (("ZC15", "DW35", "DW55"), None, True),
    (("ZC16", "DW36", "DW56"), None, False),
    (("ZC29", "DW42", "DW62"), None, True),
    (("ZC17", "DW37", "DW57"), "removing", None),
    (("ZC25", "DW3E", "DW5E"), "sos", None),
    (("ZC26", "DW3F", "DW5F"), "tampering", None),
    (("ZC27", "DW40", "DW60"), "low_power", None),
):
    for _code in _codes:
        _EVENTS[_code] = (_alarm, _ign)
_BATTERY_LEVELS = {6: 100.0, 5: 80.0, 4: 50.0, 3: 20.0, 2: 10.0}


def build_reply(device_id: str, command: str, body: str = "") -> bytes:
    """A server frame, e.g. ``build_reply("088048003342", "AP05")``."""
    return f"({device_id}{command}{body})".encode("ascii")


class Tk103Decoder(TextDecoder):
    """Streaming decoder for the TK103 ``(…)`` protocol.

    Args:
        lenient: Unused (TK103 has no checksum); accepted for a uniform interface.
        max_buffer: Bound on unparsed bytes.
        max_frame: Longest accepted frame.
    """

    protocol = PROTOCOL
    starts = b"("

    def __init__(
        self, *, lenient: bool = False, max_buffer: int = DEFAULT_MAX_BUFFER, max_frame: int = 1024
    ) -> None:
        """Create the decoder."""
        super().__init__(lenient=lenient, max_buffer=max_buffer, max_frame=max_frame)

    def _frame_end(self, buf: bytes, pos: int) -> int | None:
        window_end = min(len(buf), pos + self.max_frame + 1)
        i = pos
        while True:
            close = buf.find(b")", i, window_end)
            if close < 0:
                return None
            if buf.count(b"$", pos, close) % 2 == 0:
                return close + 1
            i = close + 1

    def _decode_frame(self, raw: bytes) -> Item | None:
        try:
            content = raw[1:-1].decode("ascii")
        except UnicodeDecodeError:
            return FrameError("frame is not ASCII", protocol=PROTOCOL, raw=raw)
        first_comma = content.find(",")
        comma_form = 0 < first_comma < 16
        if comma_form:
            parts = content.split(",", 2)
            device_id, command = parts[0], parts[1] if len(parts) > 1 else ""
            body = parts[2] if len(parts) > 2 else ""
        else:
            device_id, command, body = content[:12], content[12:16], content[16:]
        if not device_id or len(command) != 4 or not command.isalnum():
            return FrameError("no device ID and 4-character command", protocol=PROTOCOL, raw=raw)
        try:
            return self._message(device_id, command, body, raw, comma_form=comma_form)
        except ProtocolError as err:
            err.device_id = device_id
            return err

    def _message(
        self, device_id: str, command: str, body: str, raw: bytes, *, comma_form: bool
    ) -> Item:
        def frame(messages: tuple[AnyMessage, ...], reply: bytes | None = None) -> Frame:
            return Frame(
                protocol=PROTOCOL, kind=command, device_id=device_id, messages=messages, raw=raw,
                reply=reply, reject_reply=reply,
            )  # fmt: skip

        if command == "BP00":
            io: dict[str, IoValue] = {"data": body} if body else {}
            beat = Heartbeat(protocol=PROTOCOL, device_id=device_id, raw=raw, io=io)
            return frame((beat,), build_reply(device_id, "AP01", "HSO"))
        if command == "ZC20":
            return frame((self._battery(device_id, body, raw),))
        alarm, ignition = self._alarm(command, body)
        position = self._position(
            device_id, body, raw, comma_form=comma_form, alarm=alarm, ignition=ignition
        )
        rest: AnyMessage | None = position
        if rest is None:
            cells = _CELL.findall(body)
            io = {"cells": ";".join(",".join(c) for c in cells)} if cells else {}
            if alarm:
                rest = Alarm(protocol=PROTOCOL, device_id=device_id, raw=raw, alarm=alarm, io=io)
            elif cells or ignition is not None:
                rest = StatusReport(
                    protocol=PROTOCOL, device_id=device_id, raw=raw, ignition=ignition, io=io
                )
        if command == "BP05":
            digits = body[:15]
            imei = digits if digits.isdigit() and len(digits) == 15 else None
            login = Login(protocol=PROTOCOL, device_id=device_id, raw=raw, imei=imei)
            messages: tuple[AnyMessage, ...] = (login,) if rest is None else (login, rest)
            return frame(messages, build_reply(device_id, "AP05"))
        if rest is None:
            return UnsupportedMessage(command, protocol=PROTOCOL, raw=raw, device_id=device_id)
        return frame((rest,))

    @staticmethod
    def _alarm(command: str, body: str) -> tuple[str | None, bool | None]:
        if command == "BO01" and body[:1].isdigit():
            return _BO01.get(int(body[0])), None
        if command == "BQ81":
            match = re.match(r",?ALARM,(\d)", body)
            if match:
                return _BQ81.get(int(match.group(1))), None
        return _EVENTS.get(command, (None, None))

    def _position(
        self,
        device_id: str,
        body: str,
        raw: bytes,
        *,
        comma_form: bool,
        alarm: str | None,
        ignition: bool | None,
    ) -> Position | None:
        match = _COMMA.search(body) if comma_form else _FIXED.search(body)
        if match is None:
            return None
        g = match.groupdict()
        date, clock = g["date"], g["time"]
        if comma_form:
            day, month, year = int(date[0:2]), int(date[2:4]), int(date[4:6])
        else:
            year, month, day = int(date[0:2]), int(date[2:4]), int(date[4:6])
        fix_time = utc_datetime(
            2000 + year, month, day, int(clock[0:2]), int(clock[2:4]), int(clock[4:6]),
            field="datetime", protocol=PROTOCOL,
        )  # fmt: skip
        lat = parse_ddmm(g["lat"], g["ns"], "latitude", protocol=PROTOCOL)
        lon = parse_ddmm(g["lon"], g["ew"], "longitude", protocol=PROTOCOL)
        check_coordinates(lat, lon, protocol=PROTOCOL)
        speed = parse_float(g["speed"], "speed", protocol=PROTOCOL)
        course = (
            parse_float(g["course"], "course", protocol=PROTOCOL)
            if (g.get("course") or "").strip()
            else None
        )
        io: dict[str, IoValue] = {}
        charging: bool | None = None
        odometer: float | None = None
        status = g.get("io")
        if status:
            io["io_status"] = status
            charging = status[0] == "0"
            ignition = status[1] == "1" if ignition is None else ignition
            if g.get("odo"):
                odometer = float(parse_int(g["odo"], "mileage", protocol=PROTOCOL, base=16))
        if g.get("extra"):
            io["extra"] = g["extra"].lstrip(",")
        return Position(
            protocol=PROTOCOL,
            device_id=device_id,
            raw=raw,
            fix_time=fix_time,
            latitude=lat,
            longitude=lon,
            valid=g["valid"] == "A",
            speed_kmh=speed,
            course_deg=course,
            ignition=ignition,
            charging=charging,
            odometer_m=odometer,
            alarm=alarm,
            io=io,
        )

    @staticmethod
    def _battery(device_id: str, body: str, raw: bytes) -> StatusReport:
        fields = body.split(",")
        if len(fields) < 5:
            raise FrameError(
                "ZC20 needs date, time, level, voltage and power", protocol=PROTOCOL, raw=raw
            )
        date, clock = fields[0], fields[1]
        if len(date) != 6 or len(clock) != 6 or not (date + clock).isdigit():
            raise FieldError(
                "datetime", f"{date},{clock}", "expected ddmmyy,hhmmss", protocol=PROTOCOL
            )
        time = utc_datetime(
            2000 + int(date[4:6]), int(date[2:4]), int(date[0:2]),
            int(clock[0:2]), int(clock[2:4]), int(clock[4:6]), field="datetime", protocol=PROTOCOL,
        )  # fmt: skip
        level = parse_int(fields[2], "battery level", protocol=PROTOCOL)
        voltage = parse_int(fields[3], "battery voltage", protocol=PROTOCOL)
        power = parse_int(fields[4], "power voltage", protocol=PROTOCOL)
        return StatusReport(
            protocol=PROTOCOL,
            device_id=device_id,
            raw=raw,
            time=time,
            battery_percent=_BATTERY_LEVELS.get(level),
            battery_v=None if voltage == 65535 else voltage / 100.0,
            external_voltage_v=None if power == 65535 else power / 10.0,
            io={"battery_level_code": level},
        )
