"""A Web of Things entry inside Home Assistant: one Thing, or a directory of Things.

A Thing entry reads its Thing Description once and starts the Thing's coordinator
(:mod:`.coordinator`). A directory entry explores the directory, starts a coordinator for each
Thing it lists (but for Things added as entries of their own), and follows it
(:class:`DirectoryFollower`): every :data:`...const.DIRECTORY_SCAN_INTERVAL` it adds the Things
that joined and removes those that left. The registry (:mod:`...kinds`) points at the functions here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    CONF_API_KEY,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_URL,
    CONF_USERNAME,
    Platform,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_time_interval

from ...const import (
    CONF_ALLOW_OTHER_HOSTS,
    DIRECTORY_SCAN_INTERVAL,
    DOMAIN,
    KIND_WOT_DIRECTORY,
    LOGGER,
    entry_kind,
)
from ...wot import (
    ExploreResult,
    ThingDescription,
    WotAuthError,
    WotError,
    WotValidationError,
    clip_depth,
    explore,
    fetch_thing_description,
    safe_url,
)
from .coordinator import (
    EVENT_BURST,
    EVENTS_PER_SECOND,
    PUSH_UPDATES_PER_SECOND,
    WotConfigEntry,
    WotRuntime,
    WotThingCoordinator,
    async_close_push_on_stop,
    async_create_push_session,
    async_start_thing,
    credentials_from,
    thing_key,
)

# Things set up from one directory (the option CONF_MAX_THINGS of a directory entry, at most
# DIRECTORY_MAX_THINGS_LIMIT); a longer listing raises a repair issue naming the rest. The limit
# is Home Assistant's: it enables at most 10,000 entities per config entry, and every Thing
# has at least one.
CONF_MAX_THINGS = "max_things"
DIRECTORY_MAX_THINGS = 5000
DIRECTORY_MAX_THINGS_LIMIT = 10000
# Things of a directory whose first read and push channels are being set up at once. Starting
# thousands at a time only queued their requests behind the shared session's 100 connections
# per host, and kept every queued request alive long enough to be promoted to the garbage
# collector's oldest generation: measured for 2,000 Things, 15 % more CPU, most of it in full
# collections.
STARTING_AT_ONCE = 32
WOT_PLATFORMS: tuple[Platform, ...] = (
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CLIMATE,
    Platform.COVER,
    Platform.EVENT,
    Platform.FAN,
    Platform.LIGHT,
    Platform.LOCK,
    Platform.NUMBER,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.TEXT,
)
TO_REDACT = {
    CONF_API_KEY,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_USERNAME,
    "authorization",
    "Authorization",
}


def _setup_error(entry: WotConfigEntry, err: WotError) -> Exception:
    """The config entry error for a Thing Description (or directory) that could not be had."""
    placeholders = {"url": safe_url(entry.data[CONF_URL]), "error": str(err)}
    if isinstance(err, WotAuthError):
        return ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="td_auth",
            translation_placeholders=placeholders,
        )  # fmt: skip
    if isinstance(err, WotValidationError):
        return ConfigEntryError(
            translation_domain=DOMAIN, translation_key="invalid_td",
            translation_placeholders=placeholders,
        )  # fmt: skip
    return ConfigEntryNotReady(
        translation_domain=DOMAIN, translation_key="td_unreachable",
        translation_placeholders=placeholders,
    )  # fmt: skip


def _new_runtime(hass: HomeAssistant, entry: WotConfigEntry) -> WotRuntime:
    runtime = entry.runtime_data = WotRuntime(push_session=async_create_push_session(hass, entry))
    async_close_push_on_stop(hass, entry)
    return runtime


async def async_setup_thing(hass: HomeAssistant, entry: WotConfigEntry) -> None:
    """Read the Thing's Thing Description and start its coordinator."""
    runtime = _new_runtime(hass, entry)
    url = entry.data[CONF_URL]
    try:
        td = await fetch_thing_description(
            async_get_clientsession(hass),
            url,
            credentials=credentials_from(entry.data),
            # A redirect may lead elsewhere only when the user allowed other hosts.
            allowed_hosts={"*"} if entry.options.get(CONF_ALLOW_OTHER_HOSTS) else None,
        )
    except WotError as err:
        raise _setup_error(entry, err) from err
    key = str(entry.unique_id or thing_key(td, url))
    runtime.things[key] = await async_start_thing(hass, entry, td, key, first=True)


def _directory_things(
    hass: HomeAssistant, entry: WotConfigEntry, things: Iterable[ThingDescription]
) -> dict[str, ThingDescription]:
    """A directory's Things by key, but for those added as entries of their own.

    Such a Thing's entities already have its unique IDs (and its device its identifier): the
    directory leaves it to its entry rather than make duplicates Home Assistant refuses.
    """
    own = {
        other.unique_id
        for other in hass.config_entries.async_entries(DOMAIN)
        if other.entry_id != entry.entry_id and entry_kind(other.data) != KIND_WOT_DIRECTORY
    }
    tds = {thing_key(td, str(td.source_url)): td for td in things}
    return {key: td for key, td in tds.items() if key not in own}


def max_things(entry: WotConfigEntry) -> int:
    """How many Things the directory entry sets up: its option, within 1 and the limit."""
    value = int(entry.options.get(CONF_MAX_THINGS, DIRECTORY_MAX_THINGS))
    return min(max(value, 1), DIRECTORY_MAX_THINGS_LIMIT)


@callback
def _report_left_out(hass: HomeAssistant, entry: WotConfigEntry, result: ExploreResult) -> None:
    """Raise (or clear) the repair issue saying how many of a directory's Things were left out."""
    issue_id = f"directory_truncated_{entry.entry_id}"
    if not result.truncated:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    LOGGER.warning(
        "Directory %s lists more than %d Things; %d were left out",
        safe_url(entry.data[CONF_URL]),
        max_things(entry),
        result.left_out,
    )
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="directory_truncated",
        translation_placeholders={
            "title": entry.title,
            "url": safe_url(entry.data[CONF_URL]),
            "max_things": str(max_things(entry)),
            "left_out": str(result.left_out),
        },
    )


async def async_setup_directory(hass: HomeAssistant, entry: WotConfigEntry) -> None:
    """Start every Thing the directory lists, and follow the directory."""
    runtime = _new_runtime(hass, entry)
    url = entry.data[CONF_URL]
    runtime.directory_url = url
    session = async_get_clientsession(hass)
    creds = credentials_from(entry.data)
    try:
        result = await explore(session, url, credentials=creds, max_things=max_things(entry))
    except WotError as err:
        raise _setup_error(entry, err) from err
    _report_left_out(hass, entry, result)
    entry.async_on_unload(
        lambda: ir.async_delete_issue(hass, DOMAIN, f"directory_truncated_{entry.entry_id}")
    )
    runtime.rejected = {source: str(err) for source, err in result.rejected}
    tds = _directory_things(hass, entry, result.things)
    # A bounded number of Things start at once (see STARTING_AT_ONCE).
    starting = asyncio.Semaphore(STARTING_AT_ONCE)

    async def start(key: str, td: ThingDescription) -> WotThingCoordinator:
        async with starting:
            return await async_start_thing(hass, entry, td, key, first=False)

    coordinators = await asyncio.gather(*(start(key, td) for key, td in tds.items()))
    runtime.things.update(zip(tds, coordinators, strict=True))

    follower = DirectoryFollower(hass, entry, runtime)
    entry.async_on_unload(
        async_track_time_interval(hass, follower.async_schedule, DIRECTORY_SCAN_INTERVAL)
    )


class DirectoryFollower:
    """Follows a directory entry's listing: adds the Things that joined, removes those that left.

    A Thing missing from a listing that could not be read in full is removed only when the
    next scan misses it too; one scan runs at a time, as a task of the entry (unloading
    cancels it).
    """

    def __init__(self, hass: HomeAssistant, entry: WotConfigEntry, runtime: WotRuntime) -> None:
        """Follow ``entry``'s directory, whose running Things ``runtime`` holds."""
        self._hass = hass
        self._entry = entry
        self._runtime = runtime
        self._url: str = entry.data[CONF_URL]
        self._session = async_get_clientsession(hass)
        self._credentials = credentials_from(entry.data)
        self._missing_before: set[str] = set()
        self._scanning: asyncio.Task[None] | None = None

    @callback
    def async_schedule(self, _now: datetime) -> None:
        """Start a scan unless one is still running."""
        if self._scanning is None or self._scanning.done():
            self._scanning = self._entry.async_create_background_task(
                self._hass, self.async_scan(), f"{DOMAIN} directory scan {self._entry.entry_id}"
            )

    async def async_scan(self) -> None:
        """Add Things that appeared in the directory and remove those that left it."""
        hass, entry, runtime, url = self._hass, self._entry, self._runtime, self._url
        try:
            result = await explore(
                self._session, url, credentials=self._credentials, max_things=max_things(entry)
            )
        except WotError as err:
            LOGGER.debug("Directory %s could not be read: %s", safe_url(url), err)
            return
        _report_left_out(hass, entry, result)
        current = _directory_things(hass, entry, result.things)
        absent = set(runtime.things) - set(current)
        if result.rejected:
            # Some entries could not be read this time: a Thing among them is not gone yet.
            # Remove only what was also missing from the previous scan.
            absent, self._missing_before = absent & self._missing_before, absent
        else:
            self._missing_before = set()
        for key in absent:
            coordinator = runtime.things.pop(key)
            await coordinator.async_shutdown()
            device_registry = dr.async_get(hass)
            if device := device_registry.async_get_device_by_identifier(
                (DOMAIN, key), entry.entry_id
            ):
                device_registry.async_remove_device(device.id)
            LOGGER.info("%s left directory %s", coordinator.td.title, safe_url(url))
        for key in set(current) - set(runtime.things):
            coordinator = await async_start_thing(hass, entry, current[key], key, first=False)
            runtime.things[key] = coordinator
            runtime.async_thing_added(coordinator)
            LOGGER.info("%s joined directory %s", coordinator.td.title, safe_url(url))


def _push(coordinator: WotThingCoordinator) -> dict[str, Any]:
    """What the Thing pushed, and what was coalesced or dropped on the way to the states."""
    stats = coordinator.push_stats
    watched = coordinator.watcher.stats if coordinator.watcher is not None else None
    return {
        "values_received": watched.values if watched else stats.values,
        # Superseded by a newer value of the same property: in one read of the push channel
        # (the library), or between two state writes (the coordinator).
        "values_coalesced": (watched.coalesced if watched else 0) + stats.coalesced,
        "state_updates": stats.state_updates,
        "events_received": stats.events,
        "events_dropped": stats.events_dropped,
        "limits": {
            "state_updates_per_second": PUSH_UPDATES_PER_SECOND,
            "event_burst": EVENT_BURST,
            "events_per_second": EVENTS_PER_SECOND,
        },
    }


def _thing(coordinator: WotThingCoordinator) -> dict[str, Any]:
    td = coordinator.td
    return {
        "key": coordinator.key,
        "title": td.title,
        "dialect": td.dialect,
        "security": list(td.schemes),
        "observed_properties": sorted(coordinator.observed),
        "push": _push(coordinator),
        "last_update_success": coordinator.last_update_success,
        # Values come from the Thing and may nest absurdly deep: clipped, like the TD, so that
        # redaction and serialisation (both recursive) cannot run out of stack.
        "values": clip_depth(coordinator.data),
        "entities": [spec.as_dict() for spec in coordinator.specs],
        "services": [service.as_dict() for service in coordinator.services],
        "skipped_affordances": [str(err) for err in td.skipped],
        "thing_description": async_redact_data(clip_depth(td.raw), TO_REDACT),
        **coordinator.extra_diagnostics(),
    }


def things(entry: WotConfigEntry) -> Mapping[str, WotThingCoordinator]:
    """The entry's Things by key (what the actions and device triggers target)."""
    return entry.runtime_data.things


def can_remove_device(entry: WotConfigEntry, device: dr.DeviceEntry) -> bool:
    """Only a device whose Thing is no longer there may be deleted."""
    if entry.state is not ConfigEntryState.LOADED:
        return True  # nothing is known to be using it
    return not any(
        identifier[0] == DOMAIN and identifier[1] in entry.runtime_data.things
        for identifier in device.identifiers
    )


async def async_entry_diagnostics(hass: HomeAssistant, entry: WotConfigEntry) -> dict[str, Any]:
    """The entry, and for each Thing its TD, mapping and last values."""
    runtime = entry.runtime_data
    data = async_redact_data(dict(entry.data), TO_REDACT)
    if CONF_URL in data:  # a Modbus device has none
        data[CONF_URL] = safe_url(
            data[CONF_URL], REDACTED
        )  # entries made before the flow refused it
    return {
        "entry": {"data": data, "options": dict(entry.options)},
        "rejected_things": {safe_url(url, REDACTED): err for url, err in runtime.rejected.items()},
        "things": [_thing(coordinator) for coordinator in runtime.things.values()],
    }


def device_diagnostics(entry: WotConfigEntry, device: dr.DeviceEntry) -> dict[str, Any]:
    """One Thing's TD, mapping and last values (nothing for a Thing that is gone)."""
    keys = {ident[1] for ident in device.identifiers if ident[0] == DOMAIN}
    found = [c for key, c in entry.runtime_data.things.items() if key in keys]
    return _thing(found[0]) if found else {}
