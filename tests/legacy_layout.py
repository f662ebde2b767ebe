"""An installation as the code before issue 9 stores it, written out literally.

Home Assistant keeps config entries in ``.storage/core.config_entries``, the tracker gateway
keeps its trackers' counters in ``.storage/thingbridge.trackers`` and their positions in the
SQLite journal ``.storage/thingbridge_trackers.db``. The dicts and the SQL below are those
files as the current code writes them (config flow, subentry flow, ``TrackerState.checkpoint``,
``TrackerJournal`` schema version 2), spelled out rather than produced by that code, so that
they keep describing today's layout after the glue is restructured. The registry and
diagnostics snapshot tests load them with whatever code is current.

Volatile values are fixed: entry and subentry IDs, creation times, and the clock (the tests
freeze it at :data:`NOW`). Only the simulator's port is chosen by the system; the snapshots
show it as ``<port>`` (:func:`scrub`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
import json
from pathlib import Path
import re
import sqlite3
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component

from simulator.things import DEFAULT_PASSWORD, DEFAULT_TOKEN, DEFAULT_USERNAME
from simulator.wot import WotSimulator

from .conftest import StaticServer

# The clock of the tests (positions were journaled in the hour before it).
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CREATED = "2026-06-01T08:00:00.000000+00:00"

LAMP_ENTRY = "01JCOMPAT0THING0LAMP000000"
PLUG_ENTRY = "01JCOMPAT0THING0PLUG000000"
LOCK_ENTRY = "01JCOMPAT0THING0LOCK000000"
DIMMER_ENTRY = "01JCOMPAT0THING0DIMMER0000"
NO_ID_ENTRY = "01JCOMPAT0THING0NOID000000"
DIRECTORY_ENTRY = "01JCOMPAT0DIRECTORY0000000"
GATEWAY_ENTRY = "01JCOMPAT0GATEWAY000000000"
ENTRY_IDS = (
    LAMP_ENTRY,
    PLUG_ENTRY,
    LOCK_ENTRY,
    DIMMER_ENTRY,
    NO_ID_ENTRY,
    DIRECTORY_ENTRY,
    GATEWAY_ENTRY,
)

TELTONIKA = "356307042441013"
GT06 = "864717003283581"
OSMAND = "traccar-phone-7"
SUBENTRY_VAN = "01JCOMPAT0SUB0TELTONIKA000"
SUBENTRY_MACHINE = "01JCOMPAT0SUB0GT060000000"
SUBENTRY_PHONE = "01JCOMPAT0SUB0OSMAND00000"

# ``.storage`` keys and the journal's file name under the configuration directory.
CONFIG_ENTRIES_KEY = "core.config_entries"
TRACKER_STORE_KEY = "thingbridge.trackers"
JOURNAL_FILE = "thingbridge_trackers.db"


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _entry(
    entry_id: str,
    title: str,
    unique_id: str,
    data: dict[str, Any],
    *,
    options: dict[str, Any] | None = None,
    subentries: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One config entry as ``core.config_entries`` holds it (Home Assistant 2026.10)."""
    return {
        "created_at": CREATED,
        "data": data,
        "disabled_by": None,
        "discovery_keys": {},
        "domain": "thingbridge",
        "entry_id": entry_id,
        "minor_version": 1,
        "modified_at": CREATED,
        "options": options or {},
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
        "source": "user",
        "subentries": subentries or [],
        "title": title,
        "unique_id": unique_id,
        "version": 1,
    }


def _tracker(subentry_id: str, protocol: str, device_id: str, title: str) -> dict[str, Any]:
    """A tracker subentry as the subentry flow (or discovery confirmation) stores it."""
    return {
        "data": {"protocol": protocol, "device_id": device_id},
        "subentry_id": subentry_id,
        "subentry_type": "tracker",
        "title": title,
        "unique_id": f"{protocol}:{device_id}",
    }


# A Thing whose TD has no ``id``: its entry, device and entities are keyed by the TD's URL.
NO_ID_TD = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "title": "Plain Thermometer",
    "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
    "security": "nosec_sc",
    "properties": {
        "temperature": {
            "type": "number",
            "unit": "degree Celsius",
            "readOnly": True,
            "forms": [{"href": "/plain/temperature"}],
        }
    },
}
NO_ID_TEMPERATURE = 19.25


def config_entries(base_url: str, no_id_url: str) -> list[dict[str, Any]]:
    """The entries: five Things, the simulator's directory, the tracker gateway.

    Args:
        base_url: The simulator's ``http://127.0.0.1:<port>/``.
        no_id_url: Where :data:`NO_ID_TD` is served.
    """
    directory_url = f"{base_url}.well-known/wot"
    return [
        # A Thing added by URL; its options were saved once (options flow).
        _entry(
            LAMP_ENTRY,
            "Simulated Lamp",
            "urn:thingbridge:simulator:lamp",
            {"kind": "wot_thing", "url": f"{base_url}things/lamp"},
            options={"allow_other_hosts": False},
        ),
        # Things whose TD asks for credentials: a bearer token, Basic user and password.
        _entry(
            PLUG_ENTRY,
            "Simulated Smart Plug",
            "urn:thingbridge:simulator:plug",
            {"kind": "wot_thing", "url": f"{base_url}things/plug", "token": DEFAULT_TOKEN},
        ),
        _entry(
            LOCK_ENTRY,
            "Simulated Door Lock",
            "urn:thingbridge:simulator:lock",
            {
                "kind": "wot_thing",
                "url": f"{base_url}things/lock",
                "username": DEFAULT_USERNAME,
                "password": DEFAULT_PASSWORD,
            },
        ),
        # A Thing served the WebThings way (Web Thing API), and one without an id.
        _entry(
            DIMMER_ENTRY,
            "Simulated WebThings Dimmer",
            "urn:thingbridge:simulator:webthing-switch",
            {"kind": "wot_thing", "url": f"{base_url}webthings/webthing-switch"},
        ),
        _entry(
            NO_ID_ENTRY,
            "Plain Thermometer",
            no_id_url,
            {"kind": "wot_thing", "url": no_id_url},
        ),
        # A directory's unique ID is the URL it was added with.
        _entry(
            DIRECTORY_ENTRY,
            "ThingBridge Simulator Directory",
            directory_url,
            {"kind": "wot_directory", "url": directory_url},
        ),
        # The gateway (one per Home Assistant) and its trackers. Every port is 0 here (the
        # system picks free ones) where an installation has Traccar's: the layout is the same.
        _entry(
            GATEWAY_ENTRY,
            "GPS trackers",
            "tracker_gateway",
            {"kind": "tracker_gateway"},
            options={
                "protocols": ["teltonika", "gt06", "osmand"],
                "ports": dict.fromkeys(("teltonika", "gt06", "tk103", "coban", "h02", "osmand"), 0),
                "listen_host": "127.0.0.1",
                "lenient": False,
                "offline_minutes": 10,
            },
            subentries=[
                _tracker(SUBENTRY_VAN, "teltonika", TELTONIKA, "Van"),
                _tracker(SUBENTRY_MACHINE, "gt06", GT06, "Machine"),
                _tracker(SUBENTRY_PHONE, "osmand", OSMAND, "Phone"),
            ],
        ),
    ]


def _point(moment: datetime, lat: float, lon: float, accuracy: float) -> list[Any]:
    return [_iso(moment), lat, lon, accuracy]


def tracker_store() -> dict[str, Any]:
    """``.storage/thingbridge.trackers``: the checkpoints of the Van and the Machine.

    The Phone has none (added after the last save): it starts from its newest journaled
    position.
    """
    van_fix = NOW - timedelta(minutes=50)
    machine_fix = NOW - timedelta(minutes=5)
    return {
        "version": 1,
        "minor_version": 1,
        "key": TRACKER_STORE_KEY,
        "data": {
            "devices": {
                f"teltonika:{TELTONIKA}": {
                    "fix": _point(van_fix, 54.6872, 25.2797, 5.0),
                    "newest": _iso(van_fix),
                    "last_seen": _iso(van_fix + timedelta(seconds=2)),
                    "values": {
                        "speed_kmh": [_iso(van_fix), 42],
                        "course_deg": [_iso(van_fix), 90],
                        "satellites": [_iso(van_fix), 11],
                        "odometer_m": [_iso(van_fix), 120500.0],
                        "engine_hours_s": [_iso(van_fix), 36000.0],
                        "ignition": [_iso(van_fix), True],
                        "external_voltage_v": [_iso(van_fix), 12.6],
                        "motion": [_iso(van_fix), True],
                    },
                    "odometer_m": 0.0,
                    "engine_s": 0.0,
                    "anchor": _point(van_fix, 54.6872, 25.2797, 5.0),
                    "pending": None,
                    "ignition": [_iso(van_fix), True],
                },
                f"gt06:{GT06}": {
                    "fix": _point(machine_fix, 54.70, 25.30, 20.0),
                    "newest": _iso(machine_fix),
                    "last_seen": _iso(machine_fix + timedelta(seconds=1)),
                    "values": {
                        "speed_kmh": [_iso(machine_fix), 0],
                        "satellites": [_iso(machine_fix), 7],
                        "ignition": [_iso(machine_fix), False],
                        "charging": [_iso(machine_fix), True],
                        "battery_percent": [_iso(machine_fix), 80],
                        "gsm_signal": [_iso(machine_fix), 3],
                    },
                    "odometer_m": 4321.0,
                    "engine_s": 1800.0,
                    "anchor": _point(machine_fix, 54.70, 25.30, 20.0),
                    "pending": None,
                    "ignition": [_iso(machine_fix), False],
                },
            }
        },
    }


# The journal's schema, version 2 (``PRAGMA user_version``), as m2m/journal.py creates it.
_JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    protocol TEXT NOT NULL,
    device_id TEXT NOT NULL,
    fix_time_us INTEGER NOT NULL,
    lat_e7 INTEGER NOT NULL,
    lon_e7 INTEGER NOT NULL,
    received_us INTEGER NOT NULL,
    data TEXT NOT NULL,
    digest BLOB NOT NULL DEFAULT x''
);
CREATE UNIQUE INDEX IF NOT EXISTS positions_record
    ON positions (device_id, protocol, fix_time_us, digest);
CREATE INDEX IF NOT EXISTS positions_received ON positions (received_us);
PRAGMA user_version=2;
"""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _journal_row(fields: dict[str, Any], received: datetime) -> tuple[Any, ...]:
    """A row: the position's fields as compact JSON (field order, ``None`` left out).

    The digest identifies the record: it hashes the JSON without ``checksum_ok``, which is
    stored after the other fields.
    """
    fields = dict(fields)
    checksum_ok = fields.pop("checksum_ok", None)
    text = json.dumps(fields, separators=(",", ":"))
    digest = blake2b(text.encode(), digest_size=16).digest()
    if checksum_ok is not None:
        text = f'{text[:-1]},"checksum_ok":{json.dumps(checksum_ok)}}}'
    fix_time = datetime.fromisoformat(fields["fix_time"])
    return (
        fields["protocol"],
        fields["device_id"],
        _micros(fix_time),
        round(fields["latitude"] * 1e7),
        round(fields["longitude"] * 1e7),
        _micros(received),
        text,
        digest,
    )


def journal_rows() -> list[tuple[Any, ...]]:
    """Positions journaled after the Van's checkpoint (replayed), and the Phone's history."""
    rows = []
    van_fix = NOW - timedelta(minutes=50)
    for step in range(1, 4):  # three more fixes of the Van, a minute apart, driving east
        fix_time = van_fix + timedelta(minutes=step)
        rows.append(
            _journal_row(
                {
                    "protocol": "teltonika",
                    "device_id": TELTONIKA,
                    "checksum_ok": True,
                    "fix_time": _iso(fix_time),
                    "latitude": 54.6872,
                    "longitude": 25.2797 + 0.0125 * step,
                    "valid": True,
                    "altitude_m": 120.0,
                    "speed_kmh": 48.0,
                    "course_deg": 90.0,
                    "satellites": 12,
                    "ignition": True,
                    "motion": True,
                    "external_voltage_v": 12.4,
                    "odometer_m": 120500.0 + 800.0 * step,
                    "engine_hours_s": 36000.0 + 60.0 * step,
                    "io": {"16": 120500 + 800 * step},
                },
                fix_time + timedelta(seconds=2),
            )
        )
    for step in range(2):  # the Phone: two positions, the newer one is shown
        fix_time = NOW - timedelta(minutes=30 - 10 * step)
        rows.append(
            _journal_row(
                {
                    "protocol": "osmand",
                    "device_id": OSMAND,
                    "fix_time": _iso(fix_time),
                    "latitude": 54.68 + 0.001 * step,
                    "longitude": 25.28,
                    "valid": True,
                    "speed_kmh": 3.6,
                    "accuracy_m": 8.0,
                    "battery_percent": 55.0,
                    "io": {},
                },
                fix_time + timedelta(seconds=1),
            )
        )
    return rows


def write_installation(
    hass: HomeAssistant, hass_storage: dict[str, Any], base_url: str, no_id_url: str
) -> None:
    """Put the installation in place: the two ``.storage`` files and the journal."""
    hass_storage[CONFIG_ENTRIES_KEY] = {
        "version": 1,
        "minor_version": 5,
        "key": CONFIG_ENTRIES_KEY,
        "data": {"entries": config_entries(base_url, no_id_url)},
    }
    hass_storage[TRACKER_STORE_KEY] = tracker_store()
    path = Path(hass.config.path(".storage", JOURNAL_FILE))
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(_JOURNAL_SCHEMA)
        conn.executemany(
            "INSERT INTO positions (protocol, device_id, fix_time_us, lat_e7, lon_e7,"
            " received_us, data, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            journal_rows(),
        )
    conn.close()


async def load_installation(
    hass: HomeAssistant, hass_storage: dict[str, Any], sim: WotSimulator, server: StaticServer
) -> None:
    """Write the installation, load its config entries as Home Assistant starts, set them up.

    ``sim`` serves every reference Thing; ``server`` is given :data:`NO_ID_TD`.
    """
    server.add("/plain/temperature", NO_ID_TEMPERATURE)
    no_id_url = server.add("/plain/td", NO_ID_TD)
    write_installation(hass, hass_storage, sim.base_url, no_id_url)
    await hass.config_entries.async_initialize()  # reads core.config_entries, as at startup
    assert [e.entry_id for e in hass.config_entries.async_entries("thingbridge")] == list(ENTRY_IDS)
    # As at startup: setting the integration up sets up every entry of it.
    assert await async_setup_component(hass, "thingbridge", {})
    await hass.async_block_till_done()
    for entry in hass.config_entries.async_entries("thingbridge"):
        assert entry.state is ConfigEntryState.LOADED, (entry.title, entry.state)


_PORT = re.compile(r"(//(?:127\.0\.0\.1|\[::1\]|localhost)):\d+")


def scrub(value: Any, replace: Mapping[str, str] | None = None) -> Any:
    """``value`` with the simulator's port shown as ``<port>`` and ``replace`` applied.

    Floats are rounded to micro-units: a sum of haversine distances may differ in its last
    bits with another maths library.
    """
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, str):
        for old, new in (replace or {}).items():
            value = value.replace(old, new)
        return _PORT.sub(r"\1:<port>", value)
    if isinstance(value, Mapping):
        return {scrub(k, replace): scrub(v, replace) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [scrub(v, replace) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return value


def registries(hass: HomeAssistant) -> dict[str, Any]:
    """The integration's devices, entities and their states, by stable keys, sorted."""
    device_registry = dr.async_get(hass)
    entity_registry = er.async_get(hass)
    titles = {e.entry_id: e.title for e in hass.config_entries.async_entries("thingbridge")}

    def subentry_title(entry_id: str | None, subentry_id: str | None) -> str | None:
        if entry_id is None or subentry_id is None:
            return None
        return hass.config_entries.async_get_known_entry(entry_id).subentries[subentry_id].title

    def identifiers(device_id: str | None) -> list[list[str]] | None:
        if device_id is None:
            return None
        device = device_registry.async_get(device_id)
        assert device is not None
        return sorted([list(i) for i in device.identifiers])

    devices = [
        {
            "identifiers": identifiers(device.id),
            "config_entry": titles[str(device.config_entry_id)],
            "subentry": subentry_title(device.config_entry_id, device.config_subentry_id),
            "name": device.name,
            "manufacturer": device.manufacturer,
            "model": device.model,
            "sw_version": device.sw_version,
            "hw_version": device.hw_version,
            "serial_number": device.serial_number,
            "configuration_url": device.configuration_url,
            "via_device": identifiers(device.via_device_id),
            "entry_type": device.entry_type,
            "disabled_by": device.disabled_by,
        }
        for entry_id in titles
        for device in dr.async_entries_for_config_entry(device_registry, entry_id)
    ]
    entities = []
    all_entities = [
        entity
        for entry_id in titles
        for entity in er.async_entries_for_config_entry(entity_registry, entry_id)
    ]
    for entity in all_entities:
        state = hass.states.get(entity.entity_id)
        entities.append(
            {
                "entity_id": entity.entity_id,
                "unique_id": entity.unique_id,
                "platform": entity.platform,
                "domain": entity.domain,
                "config_entry": titles[str(entity.config_entry_id)],
                "subentry": subentry_title(entity.config_entry_id, entity.config_subentry_id),
                "device": identifiers(entity.device_id),
                "device_class": entity.device_class,
                "original_device_class": entity.original_device_class,
                "original_name": entity.original_name,
                "has_entity_name": entity.has_entity_name,
                "translation_key": entity.translation_key,
                "disabled_by": entity.disabled_by,
                "hidden_by": entity.hidden_by,
                "entity_category": entity.entity_category,
                "unit_of_measurement": entity.unit_of_measurement,
                "supported_features": entity.supported_features,
                "capabilities": entity.capabilities,
                "state": None
                if state is None
                else {"state": state.state, "attributes": dict(state.attributes)},
            }
        )
    return scrub(
        {
            "devices": sorted(devices, key=lambda d: repr(d["identifiers"])),
            "entities": sorted(entities, key=lambda e: e["entity_id"]),
        }
    )
