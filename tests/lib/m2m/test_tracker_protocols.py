"""The protocol table (``PROTOCOLS``) states what each decoder does, read from the decoders.

The Home Assistant glue reads labels, manufacturers, ID rules and fillable fields from it, so
a wrong entry shows users a sensor that never gets a value, or hides one that would.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from custom_components.thingbridge.m2m.trackers import (
    DEVICE_ID_PATTERNS,
    PROTOCOLS,
    DeviceState,
    Position,
    valid_device_id,
)

TRACKERS = Path(__file__).resolve().parents[3] / "custom_components/thingbridge/m2m/trackers"
# Fields that say where a message comes from or what it is, not a value of the device.
_FRAME = {
    "protocol", "device_id", "raw", "checksum_ok", "time", "fix_time", "latitude", "longitude",
    "valid", "io", "reply",
}  # fmt: skip
_MESSAGES = {"Position", "DeviceState", "Heartbeat", "StatusReport", "Alarm"}


def filled_fields(source: str) -> set[str]:
    """The value fields a decoder's source passes to a position or device state constructor."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _MESSAGES
        ):
            assert all(k.arg for k in node.keywords), "no ** in message constructors"
            found |= {str(k.arg) for k in node.keywords} - _FRAME
    return found


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_fields_are_what_the_decoder_fills(name: str) -> None:
    assert PROTOCOLS[name].fields == filled_fields((TRACKERS / f"{name}.py").read_text())


def test_field_scan_can_fail() -> None:
    source = "Position(protocol='x', fix_time=t, altitude_m=1.0)\nHeartbeat(gsm_signal=3)\n"
    assert filled_fields(source) == {"altitude_m", "gsm_signal"}


def test_fields_name_message_fields() -> None:
    known = {f.name for cls in (Position, DeviceState) for f in dataclasses.fields(cls)}
    for info in PROTOCOLS.values():
        assert info.fields <= known - _FRAME, info.name


def test_labels_manufacturers_and_id_rules() -> None:
    assert list(PROTOCOLS) == ["teltonika", "gt06", "tk103", "coban", "h02", "osmand"]
    assert {n: i.label for n, i in PROTOCOLS.items()} == {
        "teltonika": "Teltonika",
        "gt06": "GT06 / Concox",
        "tk103": "TK103",
        "coban": "Coban",
        "h02": "H02",
        "osmand": "OsmAnd / Traccar Client",
    }
    assert {n: i.manufacturer for n, i in PROTOCOLS.items() if i.manufacturer} == {
        "teltonika": "Teltonika"
    }
    for name, info in PROTOCOLS.items():
        assert info.device_id is DEVICE_ID_PATTERNS[name]
    assert PROTOCOLS["teltonika"].device_id.fullmatch("356307042441013")
    assert valid_device_id("h02", "4210051415")
    assert not PROTOCOLS["h02"].device_id.fullmatch("42100514")
