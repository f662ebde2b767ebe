"""Decoders for classic cellular GPS tracker protocols, sans-IO.

One decoder per protocol, all producing the common model in :mod:`.model`:

========== =============================== ============ ==========
name       decoder                         Traccar port transports
========== =============================== ============ ==========
teltonika  :class:`TeltonikaDecoder` (TCP) 5027         TCP, UDP
           :class:`TeltonikaUdpDecoder`
gt06       :class:`Gt06Decoder`            5023         TCP
tk103      :class:`Tk103Decoder`           5002         TCP, UDP
coban      :class:`CobanDecoder`           5001         TCP, UDP
h02        :class:`H02Decoder`             5013         TCP, UDP
osmand     :func:`parse_request` …         5055         HTTP
========== =============================== ============ ==========

Stream decoders take bytes with ``feed()`` and return :class:`Frame` and
:class:`ProtocolError` items (see :mod:`.stream`); each frame carries the reply the device
expects. Datagram transports call ``decode_datagram()`` once per datagram. Nothing does
I/O: the gateway owns sockets, timeouts and the decision to accept a device. Device IDs
are checked per protocol (:func:`valid_device_id`, :mod:`.ids`): a frame with a malformed
ID is a :class:`FieldError`, never an unknown device.
"""

from __future__ import annotations

from dataclasses import dataclass
import re

from .checksum import crc16_ibm, crc16_x25
from .coban import CobanDecoder
from .errors import (
    BufferOverflowError,
    ChecksumError,
    FieldError,
    FrameError,
    GarbageError,
    IncompleteFrameError,
    MissingFieldError,
    NotIdentifiedError,
    ProtocolError,
    UnsupportedMessage,
)
from .gt06 import Gt06Decoder
from .h02 import H02Decoder
from .ids import DEVICE_ID_PATTERNS, check_device_id, valid_device_id
from .model import (
    ALARMS,
    Alarm,
    AnyMessage,
    CommandResponse,
    DeviceState,
    Frame,
    Heartbeat,
    IoValue,
    Login,
    Message,
    Position,
    StatusReport,
)
from .osmand import parse_json, parse_query, parse_request, parse_text
from .stream import DEFAULT_MAX_BUFFER, Item, StreamDecoder
from .teltonika import TeltonikaDecoder, TeltonikaUdpDecoder
from .tk103 import Tk103Decoder
from .traccar_forward import (
    DEFAULT_TOPIC as TRACCAR_DEFAULT_TOPIC,
    PROTOCOL as TRACCAR_PROTOCOL,
    ForwardedPosition,
    decode_forwarded,
)


@dataclass(frozen=True, slots=True)
class ProtocolInfo:
    """A supported protocol: the one place its facts live (the Home Assistant glue reads them).

    Attributes:
        name: The protocol name used everywhere in this library.
        port: Traccar's default port, which device configurations assume.
        transports: ``"tcp"``, ``"udp"``, ``"http"``.
        description: The device families that speak it.
        traccar_name: Traccar's name for it, when different.
        label: How it is named to people (a brand name, not translated).
        fields: The values its decoder can fill, named as :class:`Position`'s fields, in
            positions or in device state reports (heartbeats, status reports); the other
            fields of its positions stay ``None``.
        manufacturer: The vendor, when the protocol is one vendor's own (``None``: many
            brands' devices speak it).
    """

    name: str
    port: int
    transports: tuple[str, ...]
    description: str
    traccar_name: str
    label: str
    fields: frozenset[str]
    manufacturer: str | None = None

    @property
    def device_id(self) -> re.Pattern[str]:
        """What its device IDs look like (:data:`.ids.DEVICE_ID_PATTERNS`, matched in full)."""
        return DEVICE_ID_PATTERNS[self.name]


def _fields(names: str) -> frozenset[str]:
    return frozenset(names.split())


PROTOCOLS: dict[str, ProtocolInfo] = {
    info.name: info
    for info in (
        ProtocolInfo(
            "teltonika", 5027, ("tcp", "udp"), "Teltonika FMB/FMC/FMM/TAT, Codec 8/8E/16",
            "teltonika", label="Teltonika", manufacturer="Teltonika",
            fields=_fields(
                "speed_kmh course_deg altitude_m satellites hdop ignition motion"
                " external_voltage_v battery_v battery_percent gsm_signal odometer_m"
                " trip_odometer_m engine_hours_s alarm event"
            ),
        ),
        ProtocolInfo(
            "gt06", 5023, ("tcp",), "GT06 / Concox / JimiIoT and clones", "gt06",
            label="GT06 / Concox",
            fields=_fields(
                "speed_kmh course_deg altitude_m satellites ignition charging external_voltage_v"
                " battery_v battery_percent gsm_signal odometer_m alarm archive"
            ),
        ),
        ProtocolInfo(
            "tk103", 5002, ("tcp", "udp"), "TK103 '(…BP05…)' family", "tk103", label="TK103",
            fields=_fields(
                "speed_kmh course_deg ignition charging external_voltage_v battery_v"
                " battery_percent odometer_m alarm"
            ),
        ),
        ProtocolInfo(
            "coban", 5001, ("tcp", "udp"), "Coban TK103A/B 'imei:' text", "gps103",
            label="Coban",
            fields=_fields(
                "speed_kmh course_deg altitude_m satellites hdop ignition charging"
                " external_voltage_v gsm_signal alarm event"
            ),
        ),
        ProtocolInfo(
            "h02", 5013, ("tcp", "udp"), "H02 / Sinotrack '*HQ' devices", "h02", label="H02",
            fields=_fields("speed_kmh course_deg ignition battery_percent gsm_signal alarm"),
        ),
        ProtocolInfo(
            "osmand", 5055, ("http",), "OsmAnd / Traccar Client phone apps", "osmand",
            label="OsmAnd / Traccar Client",
            fields=_fields(
                "speed_kmh course_deg altitude_m hdop accuracy_m ignition motion charging"
                " battery_percent odometer_m alarm"
            ),
        ),
    )
}  # fmt: skip
"""The supported protocols with Traccar's default ports, in the order menus list them."""

TRACCAR = ProtocolInfo(
    TRACCAR_PROTOCOL, 0, ("mqtt",), "Positions forwarded by a Traccar server", "traccar",
    label="Traccar",
    fields=_fields(
        "speed_kmh course_deg altitude_m satellites hdop accuracy_m ignition motion charging"
        " external_voltage_v battery_v battery_percent gsm_signal odometer_m trip_odometer_m"
        " engine_hours_s alarm event archive"
    ),
)  # fmt: skip
"""Positions a Traccar server forwards (:mod:`.traccar_forward`): no listener of ours."""

SOURCES: dict[str, ProtocolInfo] = {**PROTOCOLS, TRACCAR.name: TRACCAR}
"""Every source of tracker positions: the listened-to protocols and Traccar's forwarding."""

ALIASES = {"gps103": "coban", "concox": "gt06", "traccar-client": "osmand"}


def create_decoder(
    name: str, *, lenient: bool = False, device_id: str | None = None
) -> StreamDecoder:
    """A new TCP stream decoder for the protocol ``name`` (OsmAnd has none: it is HTTP)."""
    key = ALIASES.get(name, name)
    if key == "teltonika":
        return TeltonikaDecoder(lenient=lenient, device_id=device_id)
    if key == "gt06":
        return Gt06Decoder(lenient=lenient, device_id=device_id)
    if key == "tk103":
        return Tk103Decoder(lenient=lenient)
    if key == "coban":
        return CobanDecoder(lenient=lenient)
    if key == "h02":
        return H02Decoder(lenient=lenient)
    raise ValueError(f"no stream decoder for protocol {name!r}")


__all__ = [
    "ALARMS",
    "ALIASES",
    "DEFAULT_MAX_BUFFER",
    "DEVICE_ID_PATTERNS",
    "PROTOCOLS",
    "SOURCES",
    "TRACCAR",
    "TRACCAR_DEFAULT_TOPIC",
    "TRACCAR_PROTOCOL",
    "Alarm",
    "AnyMessage",
    "BufferOverflowError",
    "ChecksumError",
    "CobanDecoder",
    "CommandResponse",
    "DeviceState",
    "FieldError",
    "ForwardedPosition",
    "Frame",
    "FrameError",
    "GarbageError",
    "Gt06Decoder",
    "H02Decoder",
    "Heartbeat",
    "IncompleteFrameError",
    "IoValue",
    "Item",
    "Login",
    "Message",
    "MissingFieldError",
    "NotIdentifiedError",
    "Position",
    "ProtocolError",
    "ProtocolInfo",
    "StatusReport",
    "StreamDecoder",
    "TeltonikaDecoder",
    "TeltonikaUdpDecoder",
    "Tk103Decoder",
    "UnsupportedMessage",
    "check_device_id",
    "crc16_ibm",
    "crc16_x25",
    "create_decoder",
    "decode_forwarded",
    "parse_json",
    "parse_query",
    "parse_request",
    "parse_text",
    "valid_device_id",
]
