"""Legacy machine-to-machine (M2M) protocol library used by ThingBridge.

Pure, typed Python with no Home Assistant imports, publishable on its own.
:mod:`.trackers` decodes the wire protocols of classic cellular GPS trackers
(Teltonika, GT06/Concox, TK103, Coban/GPS103, H02) and of the Traccar Client /
OsmAnd phone apps; :mod:`.gateway` listens for them, :mod:`.journal` stores their
positions and :mod:`.trackers.state` folds them into a tracker's live state.

This module is the library's face: callers import from here, never from a submodule.
Every error the library raises on purpose is an :class:`M2MError`.
"""

from .errors import M2MError
from .gateway import GatewayError, GatewayStats, PositionJournal, TrackerGateway
from .journal import JournalError, JournalRecord, TrackerJournal
from .trackers import (
    ALIASES,
    PROTOCOLS,
    SOURCES,
    TRACCAR_DEFAULT_TOPIC,
    TRACCAR_PROTOCOL,
    DeviceState,
    ForwardedPosition,
    Message,
    Position,
    ProtocolError,
    ProtocolInfo,
    check_device_id,
    decode_forwarded,
    valid_device_id,
)
from .trackers.state import Fix, TrackerState, fix_of

__all__ = [
    "ALIASES",
    "PROTOCOLS",
    "SOURCES",
    "TRACCAR_DEFAULT_TOPIC",
    "TRACCAR_PROTOCOL",
    "DeviceState",
    "Fix",
    "ForwardedPosition",
    "GatewayError",
    "GatewayStats",
    "JournalError",
    "JournalRecord",
    "M2MError",
    "Message",
    "Position",
    "PositionJournal",
    "ProtocolError",
    "ProtocolInfo",
    "TrackerGateway",
    "TrackerJournal",
    "TrackerState",
    "check_device_id",
    "decode_forwarded",
    "fix_of",
    "valid_device_id",
]
