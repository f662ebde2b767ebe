"""ThingBridge: Web of Things devices, legacy M2M machines and tracked assets in Home Assistant."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_URL, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    issue_registry as ir,
)
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.typing import ConfigType

from .const import (
    CONF_ALLOW_OTHER_HOSTS,
    CONF_KIND,
    DIRECTORY_SCAN_INTERVAL,
    DOMAIN,
    KIND_WOT_DIRECTORY,
    LOGGER,
)
from .coordinator import (
    ThingBridgeConfigEntry,
    WotRuntime,
    async_create_push_session,
    async_start_thing,
    credentials_from,
    thing_key,
)
from .services import async_setup_services
from .tracker_runtime import (
    AnyThingBridgeConfigEntry,
    async_can_remove_device,
    async_remove_gateway,
    async_setup_gateway,
    async_unload_gateway,
    is_tracker_gateway,
)
from .wot import (
    MAX_THINGS,
    ExploreResult,
    ThingDescription,
    WotAuthError,
    WotError,
    WotValidationError,
    explore,
    fetch_thing_description,
    safe_url,
)

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
# Things set up from one directory; a longer listing raises a repair issue naming the rest.
DIRECTORY_MAX_THINGS = MAX_THINGS
PLATFORMS: list[Platform] = [
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
]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions once, whatever entries exist."""
    async_setup_services(hass)
    return True


def _setup_error(entry: ThingBridgeConfigEntry, err: WotError) -> Exception:
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


async def async_setup_entry(hass: HomeAssistant, entry: AnyThingBridgeConfigEntry) -> bool:
    """Set up one Thing, every Thing of a directory, or the GPS tracker gateway."""
    if is_tracker_gateway(entry):
        await async_setup_gateway(hass, entry)
        return True
    runtime = WotRuntime(push_session=async_create_push_session(hass, entry))
    entry.runtime_data = runtime
    if entry.data.get(CONF_KIND) == KIND_WOT_DIRECTORY:
        await _async_setup_directory(hass, entry, runtime)
    else:
        await _async_setup_thing(hass, entry, runtime)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_setup_thing(
    hass: HomeAssistant, entry: ThingBridgeConfigEntry, runtime: WotRuntime
) -> None:
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
    hass: HomeAssistant, entry: ThingBridgeConfigEntry, things: Iterable[ThingDescription]
) -> dict[str, ThingDescription]:
    """A directory's Things by key, but for those added as entries of their own.

    Such a Thing's entities already have its unique IDs (and its device its identifier): the
    directory leaves it to its entry rather than make duplicates Home Assistant refuses.
    """
    own = {
        other.unique_id
        for other in hass.config_entries.async_entries(DOMAIN)
        if other.entry_id != entry.entry_id and other.data.get(CONF_KIND) != KIND_WOT_DIRECTORY
    }
    tds = {thing_key(td, str(td.source_url)): td for td in things}
    return {key: td for key, td in tds.items() if key not in own}


@callback
def _report_left_out(
    hass: HomeAssistant, entry: ThingBridgeConfigEntry, result: ExploreResult
) -> None:
    """Raise (or clear) the repair issue saying how many of a directory's Things were left out."""
    issue_id = f"directory_truncated_{entry.entry_id}"
    if not result.truncated:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    LOGGER.warning(
        "Directory %s lists more than %d Things; %d were left out",
        safe_url(entry.data[CONF_URL]),
        DIRECTORY_MAX_THINGS,
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
            "max_things": str(DIRECTORY_MAX_THINGS),
            "left_out": str(result.left_out),
        },
    )


async def _async_setup_directory(
    hass: HomeAssistant, entry: ThingBridgeConfigEntry, runtime: WotRuntime
) -> None:
    url = entry.data[CONF_URL]
    runtime.directory_url = url
    session = async_get_clientsession(hass)
    creds = credentials_from(entry.data)
    try:
        result = await explore(session, url, credentials=creds, max_things=DIRECTORY_MAX_THINGS)
    except WotError as err:
        raise _setup_error(entry, err) from err
    _report_left_out(hass, entry, result)
    entry.async_on_unload(
        lambda: ir.async_delete_issue(hass, DOMAIN, f"directory_truncated_{entry.entry_id}")
    )
    runtime.rejected = {source: str(err) for source, err in result.rejected}
    tds = _directory_things(hass, entry, result.things)
    coordinators = await asyncio.gather(
        *(async_start_thing(hass, entry, td, key, first=False) for key, td in tds.items())
    )
    runtime.things.update(zip(tds, coordinators, strict=True))

    missing_before: list[str] = []

    async def rescan() -> None:
        """Add Things that appeared in the directory and remove those that left it."""
        try:
            result = await explore(session, url, credentials=creds, max_things=DIRECTORY_MAX_THINGS)
        except WotError as err:
            LOGGER.debug("Directory %s could not be read: %s", safe_url(url), err)
            return
        _report_left_out(hass, entry, result)
        current = _directory_things(hass, entry, result.things)
        absent = set(runtime.things) - set(current)
        if result.rejected:
            # Some entries could not be read this time: a Thing among them is not gone yet.
            # Remove only what was also missing from the previous scan.
            absent, missing_before[:] = absent & set(missing_before), sorted(absent)
        else:
            missing_before.clear()
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

    scanning: asyncio.Task[None] | None = None

    @callback
    def schedule_rescan(_now: datetime) -> None:
        """Rescan as a task of the entry: unloading cancels it (and one scan runs at a time)."""
        nonlocal scanning
        if scanning is None or scanning.done():
            scanning = entry.async_create_background_task(
                hass, rescan(), f"{DOMAIN} directory scan {entry.entry_id}"
            )

    entry.async_on_unload(async_track_time_interval(hass, schedule_rescan, DIRECTORY_SCAN_INTERVAL))


async def async_unload_entry(hass: HomeAssistant, entry: AnyThingBridgeConfigEntry) -> bool:
    """Unload a config entry (coordinators close their push channels on unload)."""
    if is_tracker_gateway(entry):
        return await async_unload_gateway(hass, entry)
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """An entry was deleted: the gateway's journal and saved counters go with it."""
    if is_tracker_gateway(entry):
        await async_remove_gateway(hass, entry)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: AnyThingBridgeConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete a device whose Thing (or tracker subentry) is no longer there."""
    if is_tracker_gateway(entry):
        return async_can_remove_device(entry, device)
    if entry.state is not ConfigEntryState.LOADED:
        return True  # nothing is known to be using it
    return not any(
        identifier[0] == DOMAIN and identifier[1] in entry.runtime_data.things
        for identifier in device.identifiers
    )
