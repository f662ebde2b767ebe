"""The GPS tracker gateway inside Home Assistant: listeners, journal, trackers, discovery.

One gateway entry per Home Assistant runs one :class:`.m2m.gateway.TrackerGateway` (a TCP,
UDP or HTTP listener per enabled protocol) in front of the position journal
(:class:`.m2m.journal.TrackerJournal`, SQLite in ``.storage/thingbridge_trackers.db``, opened
and closed with the entry, written on its own thread). Each tracker is a config subentry of the
gateway entry; only those are acknowledged, so a device Home Assistant does not know keeps its
buffer and raises a discovery flow instead (``integration_discovery``), whose confirmation adds
the subentry. Subentries added or removed later take effect without a reload (the update
listener); changed options reload the entry.

Positions arrive from the gateway after they were journaled and before the device gets its
ACK; each is folded into the tracker's :class:`.m2m.TrackerState`, whose counters
(odometer, engine hours) and last values are saved in Home Assistant's storage
(``.storage/thingbridge.trackers``) at most :data:`STORE_SAVE_DELAY` seconds later. At setup
the saved state is read back and whatever the journal received after it is replayed, so a
crash loses nothing the devices were told was stored.

A tracker Home Assistant does not know is offered under Discovered within bounds, as anyone
who can reach a port can make up device IDs (:mod:`.discovery`); the gateway's and each
tracker's diagnostics are written by :mod:`.diagnostics`.

Beyond one host (``docs/scale.md``): the gateway can also take positions a Traccar server
forwards over MQTT (``forward.type=mqtt``) instead of, or besides, its own listeners. The
option ``traccar_topic`` makes :class:`TraccarMqttSource` subscribe once to that topic through
Home Assistant's MQTT integration (an ``after_dependency``: without it nothing changes); each
document is decoded by the library (:func:`.m2m.decode_forwarded`), journaled like the
gateway's positions and folded into the tracker whose subentry has protocol ``traccar`` and
the Traccar ``uniqueId`` as its device ID; unknown ones are offered under Discovered.

Why ``.storage``: Home Assistant's backups include it, it is the integration data directory
users are not meant to edit, and the journal sits next to the counters it complements.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
import errno
from functools import partial
import logging
import os
from pathlib import Path
import time
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY, ConfigEntry, ConfigSubentry
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store
from homeassistant.setup import async_when_setup
from homeassistant.util import dt as dt_util

from ...const import (
    CONF_DEVICE_ID,
    CONF_LENIENT,
    CONF_LISTEN_HOST,
    CONF_OFFLINE_MINUTES,
    CONF_PORTS,
    CONF_PROTOCOL,
    CONF_PROTOCOLS,
    CONF_TRACCAR_TOPIC,
    DEFAULT_LISTEN_HOST,
    DEFAULT_OFFLINE_MINUTES,
    DOMAIN,
    KIND_TRACKER_GATEWAY,
    SUBENTRY_TRACKER,
    TRACKER_JOURNAL_FILE,
    TRACKER_ONLINE_CHECK_INTERVAL,
    TRACKER_PROTOCOL_LABELS,
    TRACKER_PROTOCOLS,
    TRACKER_SOURCE_TRACCAR,
    TRACKER_STORE_KEY,
    TRACKER_STORE_VERSION,
    device_identifier,
)
from ...m2m import (
    PROTOCOLS,
    DeviceState,
    Fix,
    GatewayError,
    GatewayStats,
    JournalError,
    Message,
    Position,
    ProtocolError,
    TrackerGateway,
    TrackerJournal,
    TrackerState,
    decode_forwarded,
    fix_of,
)
from ...position_sources import (
    HistoricalFix,
    async_register_position_history,
)
from .discovery import TrackerDiscovery, tracker_key

_LOGGER = logging.getLogger(__name__)

TRACKER_PLATFORMS = (Platform.BINARY_SENSOR, Platform.DEVICE_TRACKER, Platform.SENSOR)
STORE_SAVE_DELAY = 30.0
REPLAY_PAGE = 1000
_ONE_MICROSECOND = timedelta(microseconds=1)
# A fix dated further ahead of the clock is not shown (the tracker state's rule) nor offered.
HISTORY_MAX_FUTURE = timedelta(days=1)
TRACCAR_MAX_PENDING = 10_000
"""Positions from MQTT waiting for the journal; beyond this they are dropped (and counted)."""
TRACCAR_LOG_INTERVAL = 60.0
"""Rejected MQTT documents are logged at most this often (with the count since the last)."""

type TrackerGatewayConfigEntry = ConfigEntry[TrackerGatewayRuntime]


def default_ports() -> dict[str, int]:
    """Traccar's port for every protocol (device configurations assume them)."""
    return {name: PROTOCOLS[name].port for name in TRACKER_PROTOCOLS}


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """The gateway's options.

    Attributes:
        protocols: The enabled protocols.
        ports: The port of every protocol (enabled or not, so re-enabling keeps it).
        host: The address to listen on.
        lenient: Accept frames with bad checksums.
        offline_minutes: A tracker silent this long is offline.
        traccar_topic: The MQTT topic a Traccar server forwards positions to (empty: none).
    """

    protocols: tuple[str, ...]
    ports: Mapping[str, int]
    host: str = DEFAULT_LISTEN_HOST
    lenient: bool = False
    offline_minutes: int = DEFAULT_OFFLINE_MINUTES
    traccar_topic: str = ""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> GatewaySettings:
        """Read an entry's options (missing keys take their defaults)."""
        ports = default_ports()
        ports.update({k: int(v) for k, v in dict(options.get(CONF_PORTS) or {}).items()})
        return cls(
            protocols=tuple(p for p in TRACKER_PROTOCOLS if p in options.get(CONF_PROTOCOLS, ())),
            ports=MappingProxyType(ports),
            host=str(options.get(CONF_LISTEN_HOST, DEFAULT_LISTEN_HOST)),
            lenient=bool(options.get(CONF_LENIENT, False)),
            offline_minutes=int(options.get(CONF_OFFLINE_MINUTES, DEFAULT_OFFLINE_MINUTES)),
            traccar_topic=str(options.get(CONF_TRACCAR_TOPIC) or ""),
        )

    def as_options(self) -> dict[str, Any]:
        """The entry options that hold these settings (the Traccar topic only when set)."""
        options: dict[str, Any] = {
            CONF_PROTOCOLS: list(self.protocols),
            CONF_PORTS: dict(self.ports),
            CONF_LISTEN_HOST: self.host,
            CONF_LENIENT: self.lenient,
            CONF_OFFLINE_MINUTES: self.offline_minutes,
        }
        if self.traccar_topic:
            options[CONF_TRACCAR_TOPIC] = self.traccar_topic
        return options

    @property
    def listen_ports(self) -> dict[str, int]:
        """The enabled protocols and their ports."""
        return {p: self.ports[p] for p in self.protocols}

    @property
    def offline_after(self) -> timedelta:
        """Silence after which a tracker is offline."""
        return timedelta(minutes=self.offline_minutes)


async def async_check_ports(
    host: str, ports: Mapping[str, int], *, held: Collection[int] = ()
) -> None:
    """Bind every listener the gateway would open, and close them again (the library's check).

    Args:
        host: The address to listen on.
        ports: Protocols and ports to check.
        held: Ports this Home Assistant's gateway listens on now (not checked: they are free
            again once it restarts with the new settings).

    Raises:
        GatewayError: A port cannot be bound; names the protocol, transport and port.
    """
    wanted = {p: port for p, port in ports.items() if port == 0 or port not in held}
    if wanted:
        await TrackerGateway.check_ports(host, wanted)


def port_error_key(err: GatewayError) -> str:
    """``port_in_use`` when another program holds the port, else ``cannot_listen``."""
    cause = err.__cause__
    return (
        "port_in_use"
        if isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE
        else ("cannot_listen")
    )


def port_error_placeholders(err: GatewayError) -> dict[str, str]:
    """The placeholders of a port error: protocol, transport, port and the cause."""
    return {
        "protocol": TRACKER_PROTOCOL_LABELS.get(err.protocol, err.protocol),
        "transport": err.transport,
        "port": str(err.port),
        "error": str(err.__cause__ or err),
    }


class NoListeners:
    """The gateway's stand-in when no protocol is enabled (only Traccar's MQTT source)."""

    def __init__(self, host: str) -> None:
        """Listen nowhere."""
        self.host = host
        self.ports: dict[str, int] = {}
        self.udp_ports: dict[str, int] = {}
        self.stats = GatewayStats()

    async def start(self) -> None:
        """Nothing to open."""

    async def stop(self) -> None:
        """Nothing to close."""

    def last_seen(self, protocol: str, device_id: str) -> datetime | None:
        """No connection ever saw a device."""
        return None

    def connected_devices(self) -> set[tuple[str, str]]:
        """No device is connected."""
        return set()


class TrackerDevice:
    """One tracker (a subentry of the gateway entry): its state and who shows it."""

    def __init__(self, subentry: ConfigSubentry) -> None:
        """Take the protocol, device ID and name from the subentry."""
        self.subentry_id = subentry.subentry_id
        self.name = subentry.title
        self.protocol: str = subentry.data[CONF_PROTOCOL]
        self.device_id: str = subentry.data[CONF_DEVICE_ID]
        self.state = TrackerState(self.protocol, self.device_id)
        self.online = False
        self._listeners: list[Callable[[], None]] = []
        self._fix_listeners: list[Callable[[Fix], None]] = []

    @property
    def key(self) -> str:
        """The tracker's identity (protocol and device ID)."""
        return tracker_key(self.protocol, self.device_id)

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``listener`` whenever a value changed; returns the remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_add_fix_listener(self, listener: Callable[[Fix], None]) -> CALLBACK_TYPE:
        """Call ``listener`` with every fix that becomes the shown location, in order."""
        self._fix_listeners.append(listener)
        return lambda: self._fix_listeners.remove(listener)

    @callback
    def async_notify(self, fixes: list[Fix] | None = None) -> None:
        """Tell the entities: each new fix to the location entity, then that values changed."""
        for fix in fixes or ():
            for fix_listener in list(self._fix_listeners):
                fix_listener(fix)
        for listener in list(self._listeners):
            listener()

    @callback
    def async_update_online(self, now: datetime, offline_after: timedelta) -> bool:
        """Re-evaluate :attr:`online`; return whether it changed."""
        seen = self.state.last_seen
        online = seen is not None and now - seen < offline_after
        changed = online != self.online
        self.online = online
        return changed


class TrackerGatewayRuntime:
    """What the gateway entry holds while loaded."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: TrackerGatewayConfigEntry,
        settings: GatewaySettings,
        journal: TrackerJournal,
        store: Store[dict[str, Any]],
    ) -> None:
        """Hold the parts; nothing listens until :meth:`async_start`."""
        self.hass = hass
        self.entry = entry
        self.settings = settings
        self.journal = journal
        self.store = store
        self.devices: dict[tuple[str, str], TrackerDevice] = {}
        self.discovery = TrackerDiscovery(hass)
        self.gateway: TrackerGateway | NoListeners = (
            TrackerGateway(
                journal,
                ports=settings.listen_ports,
                host=settings.host,
                lenient=settings.lenient,
                is_registered=self.is_registered,
                on_positions=self.on_positions,
                on_unknown_device=self.discovery.on_unknown_device,
                on_message=self.on_message,
            )
            if settings.protocols
            else NoListeners(settings.host)
        )
        self.traccar = TraccarMqttSource(self, settings.traccar_topic)
        self._checkpoints: dict[str, Any] = {}
        self._device_listeners: list[Callable[[TrackerDevice], None]] = []
        self._stopped = False

    # -- lifecycle --------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Restore every tracker, then open the listeners.

        Raises:
            ConfigEntryNotReady: A port cannot be bound (translated, names the port).
        """
        stored = await self.store.async_load() or {}
        self._checkpoints = dict(stored.get("devices") or {})
        for subentry in self.entry.get_subentries_of_type(SUBENTRY_TRACKER):
            await self._async_add_device(subentry)
        try:
            await self.gateway.start()
        except GatewayError as err:
            raise ConfigEntryNotReady(
                translation_domain=DOMAIN,
                translation_key="listen_failed",
                translation_placeholders=port_error_placeholders(err),
            ) from err
        _LOGGER.debug("Tracker gateway listening on %s %s", self.settings.host, self.gateway.ports)
        if self.settings.traccar_topic:
            self.traccar.async_start()

    async def async_stop(self) -> None:
        """Close the listeners, save the trackers' state and close the journal."""
        if self._stopped:
            return
        self._stopped = True
        self.discovery.async_stop()
        await self.gateway.stop()
        await self.traccar.async_stop()
        await self.store.async_save(self._store_data())
        await self.journal.close()

    async def async_stop_event(self, _event: Event) -> None:
        """Home Assistant stops: close the ports and the journal before it exits."""
        await self.async_stop()

    # -- trackers ---------------------------------------------------------------------------

    @callback
    def async_on_device_added(self, listener: Callable[[TrackerDevice], None]) -> CALLBACK_TYPE:
        """Call ``listener`` for every tracker added from now on; returns the remover."""
        self._device_listeners.append(listener)
        return lambda: self._device_listeners.remove(listener)

    async def _async_add_device(self, subentry: ConfigSubentry) -> TrackerDevice:
        device = TrackerDevice(subentry)
        await self._async_restore(device)
        device.async_update_online(dt_util.utcnow(), self.settings.offline_after)
        # From here on the gateway acknowledges the device, and its resent data flows in.
        self.devices[(device.protocol, device.device_id)] = device
        return device

    async def _async_restore(self, device: TrackerDevice) -> None:
        """Read the saved state back, then replay what the journal got after it."""
        state = device.state
        checkpoint = self._checkpoints.get(device.key)
        if checkpoint is not None:
            try:
                state.restore(checkpoint)
            except ValueError as err:
                _LOGGER.warning("Saved state of tracker %r ignored: %s", device.key, err)
        try:
            if state.newest is None:
                # Nothing saved (a new tracker, or a re-added one): start from its last position.
                record = await self.journal.latest(device.device_id, protocol=device.protocol)
                if record is not None:
                    state.apply_positions([record.position], dt_util.utcnow())
                    state.last_seen = state.last_seen or record.received_at
                return
            since = state.newest
            seen: set[int] = set()
            while True:
                records = await self.journal.positions(
                    device.device_id, protocol=device.protocol, since=since, limit=REPLAY_PAGE
                )
                fresh = [r for r in records if r.seq not in seen]
                if not fresh:
                    break
                state.apply_positions([r.position for r in fresh], dt_util.utcnow())
                latest = max(fresh, key=lambda r: r.received_at).received_at
                if state.last_seen is None or latest > state.last_seen:
                    state.last_seen = latest
                if len(records) < REPLAY_PAGE:
                    break
                # The next page starts at the last fix time again (strictly after it would
                # skip records of that time beyond this page); those read already are skipped.
                last = records[-1].position.fix_time
                seen = {r.seq for r in records if r.position.fix_time == last}
                since = last - _ONE_MICROSECOND if len(seen) < len(records) else last
        except (JournalError, ValueError, KeyError, TypeError) as err:
            # A journal that cannot be read (or a damaged row) costs the replay, not the setup.
            _LOGGER.warning("Journal of tracker %r could not be read: %s", device.key, err)

    async def async_sync_subentries(self) -> None:
        """Start trackers whose subentry was added; forget those whose subentry was removed."""
        current = {s.subentry_id: s for s in self.entry.get_subentries_of_type(SUBENTRY_TRACKER)}
        for key, device in list(self.devices.items()):
            if device.subentry_id not in current:
                del self.devices[key]
                self._checkpoints.pop(device.key, None)
                _LOGGER.info("GPS tracker %r removed", device.key)
        known = {d.subentry_id for d in self.devices.values()}
        for subentry_id, subentry in current.items():
            if subentry_id in known:
                continue
            device = await self._async_add_device(subentry)
            _LOGGER.info("GPS tracker %r added", device.key)
            self.discovery.async_added(device.protocol, device.device_id)
            for listener in list(self._device_listeners):
                listener(device)
        self._schedule_save()

    # -- gateway callbacks (on the event loop) ------------------------------------------------

    def is_registered(self, protocol: str, device_id: str) -> bool:
        """Whether the user added this tracker (only those are acknowledged)."""
        return (protocol, device_id) in self.devices

    def on_positions(self, protocol: str, positions: list[Position]) -> None:
        """New positions of one tracker, journaled; show them."""
        device = self.devices.get((protocol, positions[0].device_id))
        if device is None:  # removed between the journal write and now
            return
        now = dt_util.utcnow()
        fixes = device.state.apply_positions(positions, now)
        self._seen(device, now)
        device.async_notify(fixes)
        self._schedule_save()

    def on_message(self, protocol: str, message: Message) -> None:
        """A tracker's heartbeat, login, status report or alarm."""
        device = self.devices.get((protocol, message.device_id))
        if device is None:
            return
        now = dt_util.utcnow()
        if isinstance(message, DeviceState):
            device.state.apply_status(message, now)
        self._seen(device, now)
        device.async_notify()
        self._schedule_save()

    def _seen(self, device: TrackerDevice, now: datetime) -> None:
        device.state.last_seen = now
        device.async_update_online(now, self.settings.offline_after)

    def on_forwarded(self, positions: list[Position]) -> None:
        """Positions forwarded by Traccar, journaled (the new ones), in arrival order."""
        by_device: dict[str, list[Position]] = {}
        for position in positions:
            by_device.setdefault(position.device_id, []).append(position)
        for device_positions in by_device.values():
            self.on_positions(TRACKER_SOURCE_TRACCAR, device_positions)

    @callback
    def async_refresh_online(self, now: datetime) -> None:
        """Turn trackers offline after the configured silence (runs every 30 seconds)."""
        for device in self.devices.values():
            seen = self.gateway.last_seen(device.protocol, device.device_id)
            if seen is not None and (
                device.state.last_seen is None or seen > device.state.last_seen
            ):
                device.state.last_seen = seen
            if device.async_update_online(now, self.settings.offline_after):
                device.async_notify()

    # -- persistence ------------------------------------------------------------------------

    def _store_data(self) -> dict[str, Any]:
        return {"devices": {d.key: d.state.checkpoint() for d in self.devices.values()}}

    def _schedule_save(self) -> None:
        self.store.async_delay_save(self._store_data, STORE_SAVE_DELAY)


class JournalPositionHistory:
    """The journal's fixes of each tracker's location entity, offered to the other pillars.

    Registered while the gateway entry is loaded (:mod:`..position_sources`): the asset
    register reads trips from here rather than from the recorder. The same fixes the location
    entity shows (valid, not far in the future), with the same time and coordinates.
    """

    def __init__(self, runtime: TrackerGatewayRuntime) -> None:
        """Serve ``runtime``'s journal."""
        self.runtime = runtime

    def _device(self, entity_id: str) -> TrackerDevice | None:
        entry = er.async_get(self.runtime.hass).async_get(entity_id)
        if entry is None or entry.config_entry_id != self.runtime.entry.entry_id:
            return None
        for device in self.runtime.devices.values():
            if entry.unique_id == f"tracker_{device.protocol}_{device.device_id}_location":
                return device
        return None

    def handles(self, entity_id: str) -> bool:
        """Whether ``entity_id`` is the location of one of this gateway's trackers."""
        return self._device(entity_id) is not None

    async def history(
        self, entity_id: str, start: datetime, end: datetime | None, limit: int
    ) -> list[HistoricalFix]:
        """The journal's fixes of the tracker from ``start`` to ``end``, oldest first.

        Raises:
            JournalError: The journal is closed or cannot be read.
            KeyError: ``entity_id`` is not a tracker of this gateway (any more).
        """
        device = self._device(entity_id)
        if device is None:
            raise KeyError(entity_id)
        newest = dt_util.utcnow() + HISTORY_MAX_FUTURE
        fixes: list[HistoricalFix] = []
        since = start - timedelta(microseconds=1)
        seen: set[int] = set()  # the records of the page boundary's fix time
        while len(fixes) < limit:
            records = await self.runtime.journal.positions(
                device.device_id, protocol=device.protocol, since=since, limit=REPLAY_PAGE
            )
            for record in records:
                position = record.position
                if (end is not None and position.fix_time >= end) or position.fix_time > newest:
                    return fixes
                if record.seq in seen or not position.valid:
                    continue
                fix = fix_of(position)  # as the location entity shows it
                fixes.append(
                    HistoricalFix(
                        time=fix.time,
                        latitude=fix.latitude,
                        longitude=fix.longitude,
                        accuracy_m=fix.accuracy_m,
                        speed_kmh=position.speed_kmh,
                        ignition=position.ignition,
                        odometer_m=position.odometer_m,
                        key=f"{device.key}#{record.seq}",
                    )
                )
                if len(fixes) >= limit:
                    return fixes
            if len(records) < REPLAY_PAGE:
                break
            # Records of the last fix time may go on in the next page: read it again.
            last = records[-1].position.fix_time
            same = {r.seq for r in records if r.position.fix_time == last}
            if len(same) == len(records):
                since = last  # a whole page at one time: go past it
            else:
                since = last - timedelta(microseconds=1)
                seen = same
        return fixes


class TraccarMqttSource:
    """Positions a Traccar server forwards to one MQTT topic, for the gateway's trackers.

    One subscription (QoS 1, as Traccar publishes) through Home Assistant's MQTT integration,
    made once that integration is set up; every message is decoded, and a known tracker's
    position waits in a bounded queue for the journal, which one task drains in batches
    (a resend, QoS 1 redelivering, is recognised by the journal and not shown twice).
    Rejected documents are counted and logged at debug level at most once a minute.
    """

    def __init__(self, runtime: TrackerGatewayRuntime, topic: str) -> None:
        """Subscribe to nothing yet."""
        self.runtime = runtime
        self.topic = topic
        self.subscribed = False
        self.received = 0
        self.accepted = 0
        self.rejected = 0
        self.dropped = 0
        self._pending: list[Position] = []
        self._drain: asyncio.Task[None] | None = None
        self._unsubscribe: CALLBACK_TYPE | None = None
        self._stopped = False
        self._rejected_unlogged = 0
        self._logged_at = -TRACCAR_LOG_INTERVAL

    def is_stopped(self) -> bool:
        """Whether :meth:`async_stop` was called."""
        return self._stopped

    @callback
    def async_start(self) -> None:
        """Subscribe as soon as Home Assistant's MQTT integration is set up."""
        async_when_setup(self.runtime.hass, "mqtt", self._async_mqtt_ready)

    async def _async_mqtt_ready(self, hass: HomeAssistant, _component: str) -> None:
        from homeassistant.components import mqtt  # noqa: PLC0415 - only with the option

        if self.is_stopped():
            return
        if not await mqtt.async_wait_for_mqtt_client(hass):
            _LOGGER.warning("MQTT is not available: Traccar positions are not received")
            return
        if self.is_stopped():
            return  # unloaded while waiting for the MQTT client
        self._unsubscribe = await mqtt.async_subscribe(
            hass, self.topic, self._on_message, qos=1, encoding=None
        )
        self.subscribed = True
        _LOGGER.debug("Receiving Traccar positions on MQTT topic %r", self.topic)

    async def async_stop(self) -> None:
        """Unsubscribe, then let what was received reach the journal."""
        self._stopped = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.subscribed = False
        if self._drain is not None:
            await self._drain

    @callback
    def _on_message(self, msg: Any) -> None:
        """One MQTT message (``ReceiveMessage``): decode it, queue it for the journal."""
        self.received += 1
        payload = msg.payload
        try:
            forwarded = decode_forwarded(payload if isinstance(payload, bytes | str) else b"")
        except ProtocolError as err:
            self.rejected += 1
            self._log_rejected(str(msg.topic), err)
            return
        position = forwarded.position
        runtime = self.runtime
        if not runtime.is_registered(TRACKER_SOURCE_TRACCAR, position.device_id):
            runtime.discovery.on_unknown_device(TRACKER_SOURCE_TRACCAR, position.device_id)
            return
        if self._stopped:
            return
        if len(self._pending) >= TRACCAR_MAX_PENDING:
            self.dropped += 1
            return
        self.accepted += 1
        self._pending.append(position)
        if self._drain is None:
            self._drain = runtime.entry.async_create_background_task(
                runtime.hass, self._async_drain(), "thingbridge traccar journal"
            )

    def _log_rejected(self, topic: str, err: ProtocolError) -> None:
        self._rejected_unlogged += 1
        now = time.monotonic()
        if now - self._logged_at < TRACCAR_LOG_INTERVAL:
            return
        _LOGGER.debug(
            "Ignored %d Traccar document(s) on MQTT topic %r; the last: %s",
            self._rejected_unlogged,
            topic,
            err,
        )
        self._logged_at = now
        self._rejected_unlogged = 0

    async def _async_drain(self) -> None:
        """Journal the queued positions in batches, then show the new ones."""
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    new = await self.runtime.journal.append(batch)
                except JournalError as err:
                    # Traccar keeps them in its own database; show them anyway.
                    _LOGGER.warning("Traccar positions not journaled: %s", err)
                    new = [True] * len(batch)
                fresh = [p for p, is_new in zip(batch, new, strict=True) if is_new]
                if fresh:
                    self.runtime.on_forwarded(fresh)
        finally:
            self._drain = None

    def diagnostics(self) -> dict[str, Any]:
        """The source's counters (for the gateway's diagnostics)."""
        return {
            "topic": self.topic,
            "subscribed": self.subscribed,
            "received": self.received,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "dropped": self.dropped,
        }


def journal_path(hass: HomeAssistant) -> Path:
    """Where the position journal lives."""
    return Path(hass.config.path(".storage", TRACKER_JOURNAL_FILE))


def tracker_store(hass: HomeAssistant) -> Store[dict[str, Any]]:
    """The storage of the trackers' counters and last values."""
    return Store(hass, TRACKER_STORE_VERSION, TRACKER_STORE_KEY)


async def async_setup_gateway(hass: HomeAssistant, entry: TrackerGatewayConfigEntry) -> None:
    """Open the journal, restore the trackers, open the ports (the entities come next).

    Raises:
        ConfigEntryNotReady: The journal cannot be opened or a port cannot be bound.
    """
    path = journal_path(hass)
    journal = TrackerJournal(path)
    try:
        await hass.async_add_executor_job(partial(os.makedirs, path.parent, exist_ok=True))
        await journal.open()
    except (JournalError, OSError) as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="journal_unavailable",
            translation_placeholders={"path": str(path), "error": str(err)},
        ) from err
    runtime = TrackerGatewayRuntime(
        hass, entry, GatewaySettings.from_options(entry.options), journal, tracker_store(hass)
    )
    try:
        await runtime.async_start()
    except BaseException:
        await runtime.gateway.stop()
        await journal.close()
        raise
    entry.runtime_data = runtime
    entry.async_on_unload(async_register_position_history(hass, JournalPositionHistory(runtime)))
    entry.async_on_unload(
        async_track_time_interval(hass, runtime.async_refresh_online, TRACKER_ONLINE_CHECK_INTERVAL)
    )
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    # Not async_listen_once: its remover, called at unload after the event fired, logs an error.
    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, runtime.async_stop_event))


async def async_unload_gateway(hass: HomeAssistant, entry: TrackerGatewayConfigEntry) -> None:
    """Its entities are gone: close the ports, save the counters, close the journal."""
    await entry.runtime_data.async_stop()


async def _async_entry_updated(hass: HomeAssistant, entry: TrackerGatewayConfigEntry) -> None:
    """Options changed: reload. Subentries changed: start or forget those trackers."""
    runtime = entry.runtime_data
    if GatewaySettings.from_options(entry.options) != runtime.settings:
        hass.config_entries.async_schedule_reload(entry.entry_id)
        return
    await runtime.async_sync_subentries()


async def async_remove_gateway(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """The gateway entry was deleted: delete the journal and the saved counters."""
    for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN):
        if flow["context"].get("source") == SOURCE_INTEGRATION_DISCOVERY and str(
            flow["context"].get("unique_id", "")
        ).startswith("tracker:"):
            hass.config_entries.flow.async_abort(flow["flow_id"])
    await tracker_store(hass).async_remove()
    path = journal_path(hass)

    def remove_files() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    await hass.async_add_executor_job(remove_files)


def async_can_remove_device(entry: TrackerGatewayConfigEntry, device: dr.DeviceEntry) -> bool:
    """A tracker's device goes with its subentry; only a leftover device may be deleted."""
    runtime = entry.runtime_data
    return not any(
        device_identifier(KIND_TRACKER_GATEWAY, d.key) in device.identifiers
        for d in runtime.devices.values()
    )
