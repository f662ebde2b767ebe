"""Constants for ThingBridge."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
import logging
from typing import Any, Final

from .m2m import PROTOCOLS, SOURCES, TRACCAR_PROTOCOL

DOMAIN: Final = "thingbridge"
LOGGER = logging.getLogger(__package__)

CONF_KIND: Final = "kind"
CONF_VERIFY_SSL: Final = "verify_ssl"
CONF_ALLOW_OTHER_HOSTS: Final = "allow_other_hosts"

# The kinds of config entry ThingBridge creates; the config flow's first step is a menu of them.
KIND_WOT_THING: Final = "wot_thing"
KIND_WOT_DIRECTORY: Final = "wot_directory"
KIND_TRACKER_GATEWAY: Final = "tracker_gateway"
KIND_MODBUS_DEVICE: Final = "modbus_device"
KIND_ASSET_REGISTER: Final = "asset_register"
ENTRY_KINDS: Final = (
    KIND_WOT_THING,
    KIND_WOT_DIRECTORY,
    KIND_MODBUS_DEVICE,
    KIND_TRACKER_GATEWAY,
    KIND_ASSET_REGISTER,
)
# Stored in the device registry of every installation: never change one.
_IDENTIFIER_PREFIXES: Final = {
    KIND_WOT_THING: "",
    KIND_WOT_DIRECTORY: "",
    KIND_TRACKER_GATEWAY: "tracker:",
    KIND_MODBUS_DEVICE: "",  # a Modbus device's key is "modbus:<endpoint>:<unit>" already
    KIND_ASSET_REGISTER: "asset:",
}


def entry_kind(data: Mapping[str, Any]) -> str:
    """The kind of entry whose data is ``data`` (entries made before kinds existed are Things).

    The registry of what each kind does is :mod:`.kinds`; this is only the key, for the
    modules below it.
    """
    return str(data.get(CONF_KIND, KIND_WOT_THING))


def device_identifier(kind: str, key: str) -> tuple[str, str]:
    """The device registry identifier of a device that an entry of ``kind`` adds.

    Args:
        kind: The entry's kind (``CONF_KIND``).
        key: The device's key within its kind: a Thing's key (its Thing Description's
            ``id``, or the one made from its URL), a tracker's ``protocol:device ID``, an
            asset's subentry ID (``"register"`` for the asset register's own device).

    Returns:
        ``(DOMAIN, key)`` for Things, ``(DOMAIN, "tracker:" + key)`` for GPS trackers,
        ``(DOMAIN, "asset:" + key)`` for assets.
    """
    return (DOMAIN, _IDENTIFIER_PREFIXES[kind] + key)


# Properties that cannot be observed are polled this often.
SCAN_INTERVAL: Final = timedelta(seconds=30)
# A directory is asked for its list of Things this often.
DIRECTORY_SCAN_INTERVAL: Final = timedelta(minutes=5)

# Fired on the bus for every event a Thing emits (device triggers listen to it).
EVENT_THING_EVENT: Final = f"{DOMAIN}_event"
# Dispatcher signal for event entities: format with the Thing's key and the event name.
SIGNAL_THING_EVENT: Final = f"{DOMAIN}_event_{{}}_{{}}"

# -- GPS tracker gateway --------------------------------------------------------------------
# One gateway entry per Home Assistant (its unique ID); each tracker is a config subentry of it.
TRACKER_GATEWAY_UNIQUE_ID: Final = "tracker_gateway"
SUBENTRY_TRACKER: Final = "tracker"

# Gateway options (all settings live in the entry's options, so the options flow can change them).
CONF_PROTOCOLS: Final = "protocols"
CONF_PORTS: Final = "ports"
CONF_LISTEN_HOST: Final = "listen_host"
CONF_LENIENT: Final = "lenient"
CONF_OFFLINE_MINUTES: Final = "offline_minutes"
# The MQTT topic Traccar forwards positions to (empty: no Traccar source).
CONF_TRACCAR_TOPIC: Final = "traccar_topic"
# Tracker subentry data.
CONF_PROTOCOL: Final = "protocol"
CONF_DEVICE_ID: Final = "device_id"

# The protocols the gateway speaks, in menu order, and how they are named to people (brand
# names: not translated); both read from the library's protocol table.
TRACKER_PROTOCOLS: Final = tuple(PROTOCOLS)
# Every source of trackers: those protocols, and positions a Traccar server forwards over MQTT.
TRACKER_SOURCES: Final = tuple(SOURCES)
TRACKER_PROTOCOL_LABELS: Final = {name: info.label for name, info in SOURCES.items()}
TRACKER_SOURCE_TRACCAR: Final = TRACCAR_PROTOCOL
DEFAULT_LISTEN_HOST: Final = "0.0.0.0"  # noqa: S104 - trackers reach Home Assistant from outside
DEFAULT_OFFLINE_MINUTES: Final = 10
MAX_OFFLINE_MINUTES: Final = 7 * 24 * 60

# The position journal (SQLite) and the trackers' counters (Home Assistant storage), both under
# the configuration directory's .storage folder.
TRACKER_JOURNAL_FILE: Final = "thingbridge_trackers.db"
TRACKER_STORE_KEY: Final = f"{DOMAIN}.trackers"
TRACKER_STORE_VERSION: Final = 1
# Online binary sensors are re-evaluated this often.
TRACKER_ONLINE_CHECK_INTERVAL: Final = timedelta(seconds=30)

# -- Modbus devices (Things whose forms speak Modbus, through Home Assistant's modbus) -------
# Entry data: how the device is reached, which unit, which profile.
CONF_CONNECTION: Final = "connection"
CONF_UNIT_ID: Final = "unit_id"
CONF_DEVICE: Final = "device"
CONF_BAUDRATE: Final = "baudrate"
CONF_BYTESIZE: Final = "bytesize"
CONF_PARITY: Final = "parity"
CONF_STOPBITS: Final = "stopbits"
CONF_PROFILE: Final = "profile"
# Entry options.
CONF_SCAN_SECONDS: Final = "scan_interval"
CONF_OPTIONAL: Final = "optional"
# A device described by registers entered by hand: the list of them (each a stored Register).
CONF_REGISTERS: Final = "registers"
# The connection types (entry data; menu order).
MODBUS_TCP: Final = "tcp"
MODBUS_RTU_OVER_TCP: Final = "rtu_over_tcp"
MODBUS_SERIAL: Final = "serial"
MODBUS_CONNECTIONS: Final = (MODBUS_TCP, MODBUS_RTU_OVER_TCP, MODBUS_SERIAL)
# The profile that is no Thing Model: the device's SunSpec models make the TD.
PROFILE_SUNSPEC: Final = "sunspec"
# The profile of registers entered by hand: the generic Thing Model once per register.
PROFILE_REGISTERS: Final = "registers"
DEFAULT_MODBUS_PORT: Final = 502
DEFAULT_MODBUS_SCAN_SECONDS: Final = 30
MIN_MODBUS_SCAN_SECONDS: Final = 1
MAX_MODBUS_SCAN_SECONDS: Final = 3600
# A device that has not answered for this long raises a repair issue (removed when it answers).
MODBUS_SILENT_ISSUE_AFTER: Final = timedelta(minutes=15)
# Users' own Thing Models: this folder under the configuration directory.
USER_PROFILE_DIR: Final = "thingbridge/profiles"

# -- Asset register -------------------------------------------------------------------------
# One register entry per Home Assistant (its unique ID); assets and geofences are subentries.
ASSET_REGISTER_UNIQUE_ID: Final = "asset_register"
SUBENTRY_ASSET: Final = "asset"
SUBENTRY_GEOFENCE: Final = "geofence"
# The register's own device (to-do list and calendar), keyed like an asset.
ASSET_REGISTER_DEVICE_KEY: Final = "register"
# Register options.
CONF_TAG_PREFIX: Final = "tag_prefix"
CONF_OVERDUE_REMINDERS: Final = "overdue_reminders"
CONF_NOT_SEEN_HOURS: Final = "not_seen_hours"
DEFAULT_TAG_PREFIX: Final = "ASSET-"
DEFAULT_NOT_SEEN_HOURS: Final = 24
MAX_NOT_SEEN_HOURS: Final = 24 * 365
# Asset subentry data.
CONF_ASSET_TAG: Final = "asset_tag"
CONF_CATEGORY: Final = "category"
CONF_HOME_ZONE: Final = "home_zone"
CONF_PARENT: Final = "parent"
CONF_SOURCE: Final = "source"
CONF_GEOFENCES: Final = "geofences"
CONF_ALLOWED_FROM: Final = "allowed_from"
CONF_ALLOWED_UNTIL: Final = "allowed_until"
CONF_PLAN_NAME: Final = "plan_name"
CONF_EVERY_HOURS: Final = "every_hours"
CONF_EVERY_KM: Final = "every_km"
CONF_EVERY_DAYS: Final = "every_days"
CONF_TAG_ID: Final = "tag_id"
ASSET_CATEGORIES: Final = ("vehicle", "trailer", "tool", "machine", "other")
DEFAULT_PLAN_NAME: Final = "Service"
# Geofence subentry data.
CONF_ZONE: Final = "zone"
CONF_POLYGON: Final = "polygon"
# Custody, counters, trips and maintenance logs (Home Assistant storage).
ASSET_STORE_KEY: Final = f"{DOMAIN}.assets"
ASSET_STORE_VERSION: Final = 1
# Due states (maintenance, overdue check-outs, not seen, day rollover) are re-evaluated this often.
ASSET_CHECK_INTERVAL: Final = timedelta(minutes=1)
# hass.data key of the position-history providers (see position_sources.py).
DATA_POSITION_HISTORY: Final = f"{DOMAIN}_position_history"
