"""The common model every tracker decoder produces.

Units are normalised here, whatever the wire format: speed in km/h (knots x 1.852,
m/s x 3.6), distances in metres, voltages in volts, durations in seconds, times as
timezone-aware UTC datetimes taken from the device's own timestamp.

``gsm_signal`` is the device's own signal level, **0 = no signal, higher is better**:
Teltonika reports 0-5 (AVL ID 21), GT06/Concox 0-4. It is not rescaled.

``alarm`` values are snake_case names shared by all protocols (see :data:`ALARMS`);
several alarms in one message are joined with ``","``.

``io`` keeps the raw values the message carried: Teltonika AVL IO IDs as decimal strings
(``"239"``), other protocols' extra fields under descriptive names (``"status"``,
``"mcc"``…). Values are ``int``, ``float``, ``str``, ``bool`` or ``bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

IoValue = int | float | str | bool | bytes

KNOTS_TO_KMH = 1.852
MPS_TO_KMH = 3.6

ALARMS = frozenset(
    {
        "sos",
        "power_cut",
        "power_off",
        "power_on",
        "low_battery",
        "low_power",
        "vibration",
        "movement",
        "overspeed",
        "low_speed",
        "geofence",
        "geofence_enter",
        "geofence_exit",
        "tampering",
        "removing",
        "accident",
        "acceleration",
        "braking",
        "cornering",
        "door",
        "general",
        "jamming",
        "tow",
        "idle",
        "fall_down",
        "temperature",
        "fuel_leak",
        "bonnet",
        "foot_brake",
        "fault",
        "lock",
        "unlock",
    }
)
"""Every alarm name a decoder may put in ``alarm``."""


def join_alarms(alarms: list[str]) -> str | None:
    """Join alarm names without duplicates, or ``None`` when there are none."""
    unique = list(dict.fromkeys(a for a in alarms if a))
    return ",".join(unique) if unique else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """Fields every decoded message has.

    Attributes:
        protocol: The protocol name (``"teltonika"``, ``"gt06"``…).
        device_id: The device's IMEI or ID as the device sends it.
        raw: The whole frame the message came from, for journaling.
        checksum_ok: ``True``/``False`` when the frame has a checksum (``False`` only in
            lenient mode, where bad checksums are accepted), ``None`` when it has none.
    """

    protocol: str
    device_id: str
    raw: bytes = b""
    checksum_ok: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Position(Message):
    """A located report.

    ``valid`` is the device's GPS-fix flag; ``fix_time`` is the device's timestamp (UTC).
    ``archive`` is ``True`` when the device says the record was buffered and re-sent.
    ``event`` is the protocol's reason for the report (Teltonika event IO ID, Coban
    keyword…).
    """

    fix_time: datetime
    latitude: float
    longitude: float
    valid: bool
    altitude_m: float | None = None
    speed_kmh: float | None = None
    course_deg: float | None = None
    satellites: int | None = None
    hdop: float | None = None
    accuracy_m: float | None = None
    ignition: bool | None = None
    motion: bool | None = None
    charging: bool | None = None
    external_voltage_v: float | None = None
    battery_v: float | None = None
    battery_percent: float | None = None
    gsm_signal: int | None = None
    odometer_m: float | None = None
    trip_odometer_m: float | None = None
    engine_hours_s: float | None = None
    alarm: str | None = None
    event: int | str | None = None
    archive: bool | None = None
    io: dict[str, IoValue] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceState(Message):
    """Status fields shared by the non-position messages below.

    ``time`` is the device's timestamp when the message carries one.
    """

    time: datetime | None = None
    ignition: bool | None = None
    charging: bool | None = None
    external_voltage_v: float | None = None
    battery_v: float | None = None
    battery_percent: float | None = None
    gsm_signal: int | None = None
    alarm: str | None = None
    io: dict[str, IoValue] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat(DeviceState):
    """A keep-alive, possibly with device status (GT06 0x13, H02 HTBT, Coban bare IMEI…)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReport(DeviceState):
    """A status or cell/Wi-Fi report without a GPS position (GT06 0x94, TK103 ZC20…)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Alarm(DeviceState):
    """An alarm the device reported without a GPS position (``alarm`` is set)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Login(Message):
    """The device identified itself.

    Attributes:
        imei: The IMEI when the login carries one besides ``device_id`` (TK103).
        utc_offset_s: The time zone the device announced (GT06 login extension).
        model_code: The device's type identification code (GT06).
    """

    imei: str | None = None
    utc_offset_s: int | None = None
    model_code: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandResponse(Message):
    """A device's answer to a server command (Teltonika Codec 12/13, GT06 0x15/0x21).

    Attributes:
        payload: The response bytes.
        text: The payload decoded as ASCII when it is printable.
        time: The device's timestamp, when the message carries one (Codec 13).
        message_type: The protocol's type code (Teltonika 0x05 command, 0x06 response).
        driver_id: A driver identification parsed from the text (Teltonika ``GTSL|…``).
    """

    payload: bytes = b""
    text: str | None = None
    time: datetime | None = None
    message_type: int | None = None
    driver_id: str | None = None


AnyMessage = Position | Heartbeat | StatusReport | Alarm | Login | CommandResponse


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One decoded frame and what to answer.

    Attributes:
        protocol: The protocol name.
        kind: What the frame is, in the protocol's terms (``"login"``, ``"avl"``,
            ``"0x12"``, ``"BR00"``, ``"V1"``…).
        device_id: The device, when known.
        messages: The decoded messages (a Teltonika AVL packet holds several positions;
            a keep-alive holds none).
        raw: The frame bytes.
        reply: What to send the device **once the gateway accepts the frame** (known
            device, data stored); ``None`` when the device expects nothing.
        reject_reply: What to send when the gateway rejects the device (unknown IMEI):
            Teltonika's login ``00``, the only reply a device reads as "not accepted, keep
            your data"; ``None`` for silence (everything else: GT06, TK103, Coban and H02
            handshakes and heartbeats, data frames), since any other answer is what these
            devices take as delivery.
        checksum_ok: As in :class:`Message`.
    """

    protocol: str
    kind: str
    device_id: str | None
    messages: tuple[AnyMessage, ...]
    raw: bytes
    reply: bytes | None = None
    reject_reply: bytes | None = None
    checksum_ok: bool | None = None

    @property
    def positions(self) -> list[Position]:
        """The frame's positions."""
        return [m for m in self.messages if isinstance(m, Position)]


# -- a fast constructor for the decoders' hot loops ------------------------------------------

_POSITION_ORDER = (
    "protocol", "device_id", "raw", "checksum_ok", "fix_time", "latitude", "longitude",
    "valid", "altitude_m", "speed_kmh", "course_deg", "satellites", "hdop", "accuracy_m",
    "ignition", "motion", "charging", "external_voltage_v", "battery_v", "battery_percent",
    "gsm_signal", "odometer_m", "trip_odometer_m", "engine_hours_s", "alarm", "event",
    "archive", "io",
)  # fmt: skip
if tuple(f.name for f in fields(Position)) != _POSITION_ORDER:  # pragma: no cover
    raise RuntimeError("new_position's field list does not match Position")
(
    _protocol, _device_id, _raw, _checksum_ok, _fix_time, _latitude, _longitude, _valid,
    _altitude_m, _speed_kmh, _course_deg, _satellites, _hdop, _accuracy_m, _ignition,
    _motion, _charging, _external_voltage_v, _battery_v, _battery_percent, _gsm_signal,
    _odometer_m, _trip_odometer_m, _engine_hours_s, _alarm, _event, _archive, _io,
) = (getattr(Position, name).__set__ for name in _POSITION_ORDER)  # fmt: skip
_new = object.__new__


def new_position(  # noqa: PLR0917 - every field, in declaration order
    protocol: str,
    device_id: str,
    raw: bytes,
    checksum_ok: bool | None,
    fix_time: datetime,
    latitude: float,
    longitude: float,
    valid: bool,
    altitude_m: float | None,
    speed_kmh: float | None,
    course_deg: float | None,
    satellites: int | None,
    hdop: float | None,
    accuracy_m: float | None,
    ignition: bool | None,
    motion: bool | None,
    charging: bool | None,
    external_voltage_v: float | None,
    battery_v: float | None,
    battery_percent: float | None,
    gsm_signal: int | None,
    odometer_m: float | None,
    trip_odometer_m: float | None,
    engine_hours_s: float | None,
    alarm: str | None,
    event: int | str | None,
    archive: bool | None,
    io: dict[str, IoValue],
) -> Position:
    """``Position(...)`` with every field given positionally, at about half the cost.

    A frozen dataclass's ``__init__`` sets each of its 28 fields through
    ``object.__setattr__`` by name; this sets the slots directly (the same object, equal and
    with the same hash). For decoders that build thousands of positions a second.
    """
    self: Position = _new(Position)
    _protocol(self, protocol)
    _device_id(self, device_id)
    _raw(self, raw)
    _checksum_ok(self, checksum_ok)
    _fix_time(self, fix_time)
    _latitude(self, latitude)
    _longitude(self, longitude)
    _valid(self, valid)
    _altitude_m(self, altitude_m)
    _speed_kmh(self, speed_kmh)
    _course_deg(self, course_deg)
    _satellites(self, satellites)
    _hdop(self, hdop)
    _accuracy_m(self, accuracy_m)
    _ignition(self, ignition)
    _motion(self, motion)
    _charging(self, charging)
    _external_voltage_v(self, external_voltage_v)
    _battery_v(self, battery_v)
    _battery_percent(self, battery_percent)
    _gsm_signal(self, gsm_signal)
    _odometer_m(self, odometer_m)
    _trip_odometer_m(self, trip_odometer_m)
    _engine_hours_s(self, engine_hours_s)
    _alarm(self, alarm)
    _event(self, event)
    _archive(self, archive)
    _io(self, io)
    return self
