"""Coordinators: they own the protocol clients and feed the entities.

One :class:`WotThingCoordinator` per Thing keeps the Thing's property values: pushed values
arrive through the library's watcher (SSE, long-poll or WebSocket) as they happen, and the
properties that cannot be observed are polled. A directory entry holds many Things and follows
the directory, adding and removing devices as Things come and go.

Requests (reads, writes, actions) go through Home Assistant's shared aiohttp session. Push
channels do not: a long-poll or SSE channel holds a connection for as long as it runs, and the
shared session allows 100 connections per host to all of Home Assistant, so a gateway serving a
few dozen observed Things would starve every other request to that host (measured: a directory
of 200 long-poll Things timed its reads out). Each entry therefore gives its push channels an
aiohttp session of their own, without a per-host cap, closed with the entry.

A Thing may push faster than Home Assistant should write states (an attacker's Thing pushed
20,000 values in 10 s, each a state change): pushed values are coalesced per property, the
newest winning, and written at most :data:`PUSH_UPDATES_PER_SECOND` times a second per Thing;
the last value pushed is always written. Events cannot be merged: each Thing may fire
:data:`EVENT_BURST` at once and :data:`EVENTS_PER_SECOND` on average, and the rest are dropped
and counted. The counters are in the diagnostics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
import math
from typing import TYPE_CHECKING, Any, Protocol, override

import aiohttp
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    CONF_API_KEY,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_USERNAME,
    EVENT_HOMEASSISTANT_CLOSE,
    EVENT_HOMEASSISTANT_STOP,
    __version__ as ha_version,
)
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    HomeAssistantError,
    ServiceValidationError,
)
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from ...const import (
    CONF_ALLOW_OTHER_HOSTS,
    CONF_VERIFY_SSL,
    DOMAIN,
    EVENT_THING_EVENT,
    KIND_WOT_THING,
    LOGGER,
    SCAN_INTERVAL,
    SIGNAL_THING_EVENT,
    device_identifier,
)
from ...wot import (
    ActionResult,
    Credentials,
    EntitySpec,
    ServiceSpec,
    ThingDescription,
    WotAuthError,
    WotClient,
    WotConnectionError,
    WotError,
    WotValueError,
    plan_thing,
)

if TYPE_CHECKING:
    from ...wot import Watcher

type WotConfigEntry = ConfigEntry[WotRuntime]

# State writes caused by pushed values, per Thing: one every 0.1 s at most (a pushed value
# that follows a quiet spell is written at once).
PUSH_UPDATES_PER_SECOND = 10
# Events fired per Thing: a burst of EVENT_BURST, then EVENTS_PER_SECOND on average.
EVENT_BURST = 20
EVENTS_PER_SECOND = 10


@dataclass(slots=True)
class PushStats:
    """What a Thing's coordinator did with what was pushed (for diagnostics).

    ``coalesced`` counts values superseded by a newer value of the same property before they
    were written; ``state_updates`` the writes of pushed values; ``events_dropped`` the
    events over the rate limit.
    """

    values: int = 0
    coalesced: int = 0
    state_updates: int = 0
    events: int = 0
    events_dropped: int = 0


class ThingClient(Protocol):
    """What a coordinator asks of the client that speaks to its Thing.

    :class:`WotClient` (HTTP, on Home Assistant's session) is one; a Modbus Thing's client,
    on a unit Home Assistant's modbus integration hands out, is another.
    """

    @property
    def td(self) -> ThingDescription:
        """The Thing Description the client serves."""

    async def read_property(self, name: str) -> Any:
        """One property's value."""

    async def read_all_properties(self) -> dict[str, Any]:
        """Every readable property's value."""

    async def write_property(self, name: str, value: Any) -> None:
        """Write one property."""

    async def invoke_action(self, name: str, action_input: Any = ...) -> ActionResult:
        """Invoke an action (with its input, when one is given)."""


def credentials_from(data: Mapping[str, Any]) -> Credentials | None:
    """The credentials stored in an entry's data, if any."""
    creds = Credentials(
        username=data.get(CONF_USERNAME),
        password=data.get(CONF_PASSWORD),
        token=data.get(CONF_TOKEN),
        api_key=data.get(CONF_API_KEY),
    )
    return creds if any((creds.username, creds.password, creds.token, creds.api_key)) else None


def thing_key(td: ThingDescription, fallback: str) -> str:
    """A stable key for a Thing: its ``id``, else the URL it was found at."""
    return td.id or fallback


class WotThingCoordinator(DataUpdateCoordinator[dict[str, Any]]):
    """Keeps one Thing's property values current, pushed where the Thing can push."""

    config_entry: WotConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WotConfigEntry,
        td: ThingDescription,
        key: str,
        session: aiohttp.ClientSession | None,
        *,
        client: ThingClient | None = None,
        update_interval: timedelta = SCAN_INTERVAL,
    ) -> None:
        """Set up for the Thing ``td``; ``key`` identifies its device.

        The Thing is spoken to over HTTP on ``session``, unless a ``client`` of another
        protocol is given (a Modbus Thing's).
        """
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {td.title}",
            update_interval=update_interval,
            always_update=False,
        )
        self.key = key
        self._poll_interval = update_interval
        if client is None:
            assert session is not None, "an HTTP Thing needs a session"
            client = WotClient(
                session,
                td,
                credentials=credentials_from(entry.data),
                allowed_hosts=None
                if not entry.options.get(CONF_ALLOW_OTHER_HOSTS)
                else _any_host(),
                ssl=entry.data.get(CONF_VERIFY_SSL, True),
            )
        self.client: ThingClient = client
        # Properties whose last read failed while others of the Thing answered (a Modbus
        # block the device refused): their entities are unavailable, the others are not.
        self.unavailable_properties: frozenset[str] = frozenset()
        plan = plan_thing(td)
        self.specs: list[EntitySpec] = plan.entities
        self.services: list[ServiceSpec] = plan.services
        self.watcher: Watcher | None = None
        # The Thing's device, as its entities describe it (built by the first of them).
        self.device_info: DeviceInfo | None = None
        self._push_connected = False
        self.push_stats = PushStats()
        # Pushed values not yet written; None between writes (thousands of idle Things).
        self._pending: dict[str, Any] | None = None
        self._flush_timer: asyncio.TimerHandle | None = None
        self._last_flush = -math.inf
        self._event_tokens = float(EVENT_BURST)
        self._event_time = hass.loop.time()

    @property
    def td(self) -> ThingDescription:
        """The Thing Description."""
        return self.client.td

    @property
    def observed(self) -> frozenset[str]:
        """Properties whose values are pushed while the push channel is up."""
        if self.watcher is None or not self._push_connected:
            return frozenset()
        return self.watcher.observed_properties

    @override
    async def _async_update_data(self) -> dict[str, Any]:
        """Read what is not pushed; fail only when the Thing cannot be reached at all."""
        readable = [name for name, prop in self.td.properties.items() if prop.readable]
        to_read = [name for name in readable if name not in self.observed]
        if readable and not to_read:
            return dict(self.data or {})
        try:
            if set(to_read) == set(readable):
                values = await self.client.read_all_properties()
            else:
                values = await self._read_some(to_read)
        except WotAuthError as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN,
                translation_key="auth_failed",
                translation_placeholders={"title": self.td.title, "error": str(err)},
            ) from err
        except WotError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="thing_unreachable",
                translation_placeholders={"title": self.td.title, "error": str(err)},
            ) from err
        return {**(self.data or {}), **values}

    async def _read_some(self, names: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        last_error: WotError | None = None
        for name in names:
            try:
                values[name] = await self.client.read_property(name)
            except WotAuthError:
                raise
            except WotError as err:
                last_error = err
                LOGGER.debug("Reading %s of %s failed: %s", name, self.td.title, err)
        if names and not values and isinstance(last_error, WotConnectionError):
            raise last_error
        return values

    async def async_start_push(self) -> None:
        """Open the Thing's push channels (SSE, long-poll or WebSocket)."""
        if not isinstance(self.client, WotClient):
            return  # a protocol without push: polled only
        self.watcher = self.client.watch(
            self._on_property,
            self._on_event,
            self._on_connection,
            session=self.config_entry.runtime_data.push_session,
        )
        await self.watcher.start()
        # Closed when Home Assistant stops by the entry's one listener
        # (async_close_push_on_stop), or by async_shutdown.
        self.config_entry.runtime_data.pushing.add(self)

    async def async_stop_push(self) -> None:
        """Close the push channels (Home Assistant stops, the entry unloads, the Thing left)."""
        self.config_entry.runtime_data.pushing.discard(self)
        if self.watcher is not None:
            await self.watcher.stop()
            self.watcher = None

    async def async_shutdown(self) -> None:
        """Close push channels, then stop polling."""
        await self.async_stop_push()
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        await super().async_shutdown()

    @callback
    def _on_property(self, name: str, value: Any) -> None:
        """Keep a pushed value; write it now, or with the next write if one was just made."""
        self.push_stats.values += 1
        pending = self._pending
        if pending is None:
            pending = self._pending = {}
        elif name in pending:
            self.push_stats.coalesced += 1
        pending[name] = value
        if self._flush_timer is not None:
            return
        wait = self._last_flush + 1 / PUSH_UPDATES_PER_SECOND - self.hass.loop.time()
        if wait > 0:
            self._flush_timer = self.hass.loop.call_later(wait, self._flush_pushed)
        else:
            self._flush_pushed()

    @callback
    def _flush_pushed(self) -> None:
        """Write the pushed values kept since the last write (the newest of each)."""
        self._flush_timer = None
        pending, self._pending = self._pending, None
        if not pending:
            return
        data = self.data or {}
        changed = {name: value for name, value in pending.items() if data.get(name) != value}
        if not changed:
            return
        self._last_flush = self.hass.loop.time()
        self.push_stats.state_updates += 1
        # Not async_set_updated_data: that would push back the next poll on every pushed
        # value, and a Thing that pushes often would never have its other properties read.
        self.data = {**data, **changed}
        self.async_update_listeners()

    @callback
    def _on_event(self, name: str, data: Any) -> None:
        self.push_stats.events += 1
        now = self.hass.loop.time()
        self._event_tokens = min(
            float(EVENT_BURST), self._event_tokens + (now - self._event_time) * EVENTS_PER_SECOND
        )
        self._event_time = now
        if self._event_tokens < 1:
            if not self.push_stats.events_dropped:
                LOGGER.warning(
                    "%r sends more than %d events per second; the excess is dropped (counted "
                    "in the diagnostics)",
                    self.td.title,
                    EVENTS_PER_SECOND,
                )
            self.push_stats.events_dropped += 1
            return
        self._event_tokens -= 1
        async_dispatcher_send(self.hass, SIGNAL_THING_EVENT.format(self.key, name), data)
        device = dr.async_get(self.hass).async_get_device_by_identifier(
            (DOMAIN, self.key), self.config_entry.entry_id
        )
        self.hass.bus.async_fire(
            EVENT_THING_EVENT,
            {
                "device_id": device.id if device else None,
                "thing": self.td.title,
                "event": name,
                "data": data,
            },
        )

    @callback
    def _on_connection(self, connected: bool) -> None:
        self._push_connected = connected
        # While every readable property is pushed, a poll reads nothing (_async_update_data):
        # no poll timer then, rather than one per Thing waking every interval for nothing
        # (and kept, with its job and context, for the garbage collector to walk). A channel
        # that drops brings it back: the refresh below schedules the next poll.
        readable = [name for name, prop in self.td.properties.items() if prop.readable]
        pushed = connected and bool(readable) and self.observed.issuperset(readable)
        self.update_interval = None if pushed else self._poll_interval
        if not connected or not self.last_update_success:
            # Values may have been missed while the channel was down (or the Thing was
            # unreachable and is back): read everything now rather than at the next poll.
            self.config_entry.async_create_background_task(
                self.hass, self.async_request_refresh(), f"{DOMAIN} refresh {self.key}"
            )

    def extra_diagnostics(self) -> dict[str, Any]:
        """What a protocol adds to the Thing's diagnostics (Modbus: the last poll's registers)."""
        return {}

    @contextmanager
    def _device_errors(self) -> Iterator[None]:
        """Turn library errors into Home Assistant errors; refused credentials start reauth.

        A value the library refuses before sending anything (a Modbus register that cannot hold
        it) is the caller's mistake: a :class:`ServiceValidationError`.
        """
        try:
            yield
        except WotAuthError as err:
            self.config_entry.async_start_reauth(self.hass)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="auth_failed",
                translation_placeholders={"title": self.td.title, "error": str(err)},
            ) from err
        except WotValueError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_value",
                translation_placeholders={"error": str(err)},
            ) from err
        except WotError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="operation_failed",
                translation_placeholders={"title": self.td.title, "error": str(err)},
            ) from err

    async def async_read_property(self, name: str) -> Any:
        """Read a property now (and show the value)."""
        with self._device_errors():
            value = await self.client.read_property(name)
        self.async_set_updated_data({**(self.data or {}), name: value})
        return value

    async def async_write_property(self, name: str, value: Any) -> None:
        """Write a property and show the new value at once."""
        with self._device_errors():
            await self.client.write_property(name, value)
        if self.td.properties[name].readable:
            self.async_set_updated_data({**(self.data or {}), name: value})

    async def async_invoke_action(
        self, name: str, action_input: Any = None, *, has_input: bool = False
    ) -> ActionResult:
        """Invoke an action; return its result."""
        with self._device_errors():
            if has_input:
                return await self.client.invoke_action(name, action_input)
            return await self.client.invoke_action(name)


def _any_host() -> frozenset[str]:
    """Marker for "every host" (the user allowed requests to other hosts in the options)."""
    return frozenset({"*"})


@dataclass
class WotRuntime:
    """What a ThingBridge entry holds while loaded: its Things, and who wants to hear of new ones."""

    push_session: aiohttp.ClientSession | None
    things: dict[str, WotThingCoordinator] = field(default_factory=dict)
    directory_url: str | None = None
    rejected: dict[str, str] = field(default_factory=dict)
    # The Things whose push channels are open (see async_close_push_on_stop).
    pushing: set[WotThingCoordinator] = field(default_factory=set)
    _listeners: list[Callable[[WotThingCoordinator], None]] = field(default_factory=list)

    @callback
    def async_on_thing_added(
        self, listener: Callable[[WotThingCoordinator], None]
    ) -> CALLBACK_TYPE:
        """Call ``listener`` for every Thing added from now on; returns the remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_thing_added(self, coordinator: WotThingCoordinator) -> None:
        """Tell the platforms about a new Thing."""
        for listener in list(self._listeners):
            listener(coordinator)


def async_create_push_session(hass: HomeAssistant, entry: WotConfigEntry) -> aiohttp.ClientSession:
    """The session that carries an entry's push channels; closed when the entry unloads."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
        headers={"User-Agent": f"HomeAssistant/{ha_version} ThingBridge"},
    )

    async def close(_event: Event | None = None) -> None:
        await session.close()

    entry.async_on_unload(close)
    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_CLOSE, close))
    return session


@callback
def async_close_push_on_stop(hass: HomeAssistant, entry: WotConfigEntry) -> None:
    """Close the entry's push channels when Home Assistant stops, before it closes its session.

    One listener for all the entry's Things: a listener per Thing made a job, a closure and
    their cells for each of a directory's thousands of Things, all kept for as long as the
    Thing runs (and walked by every full garbage collection).
    """
    remove: CALLBACK_TYPE | None = None

    async def stop_push(_event: Event) -> None:
        nonlocal remove
        remove = None  # fired: there is nothing left to remove
        pushing = list(entry.runtime_data.pushing)
        await asyncio.gather(*(coordinator.async_stop_push() for coordinator in pushing))

    @callback
    def unload() -> None:
        if remove is not None:
            remove()

    remove = hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, stop_push)
    entry.async_on_unload(unload)


async def async_start_thing(
    hass: HomeAssistant,
    entry: WotConfigEntry,
    td: ThingDescription,
    key: str,
    *,
    first: bool,
) -> WotThingCoordinator:
    """Create a Thing's coordinator, read it once and open its push channels."""
    coordinator = WotThingCoordinator(hass, entry, td, key, async_get_clientsession(hass))
    async_remove_stale_entities(hass, entry, coordinator)
    if first:
        await coordinator.async_config_entry_first_refresh()
    else:
        await coordinator.async_refresh()
    await coordinator.async_start_push()
    return coordinator


@callback
def async_remove_stale_entities(
    hass: HomeAssistant, entry: WotConfigEntry, coordinator: WotThingCoordinator
) -> None:
    """Remove the Thing's registered entities that its mapping no longer makes.

    An entity of an earlier version (the ``toggle`` button beside a light, a dimmer's switch
    and level number now one light) would otherwise stay in the registry as "no longer
    provided". Only this entry's entities on this Thing's device are looked at.
    """
    device = dr.async_get(hass).async_get_device_by_identifier(
        device_identifier(KIND_WOT_THING, coordinator.key), entry.entry_id
    )
    if device is None:
        return
    registry = er.async_get(hass)
    wanted = {f"{coordinator.key}_{spec.key}" for spec in coordinator.specs}
    for entity in er.async_entries_for_device(registry, device.id, include_disabled_entities=True):
        if (
            entity.config_entry_id == entry.entry_id
            and entity.platform == DOMAIN
            and entity.unique_id not in wanted
        ):
            LOGGER.info(
                "Removing %s: %s no longer maps to it", entity.entity_id, coordinator.td.title
            )
            registry.async_remove(entity.entity_id)
