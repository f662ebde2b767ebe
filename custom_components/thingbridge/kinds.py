"""The kinds of ThingBridge config entry: one :class:`Kind` each, in :data:`KINDS`.

A kind says which platforms its entries have and how they set up, unload, go away, let a
device be deleted and describe themselves in diagnostics; the logic itself stays with the
kind's glue package (:mod:`.bridges.wot` for Things and directories, :mod:`.bridges.trackers`
for the GPS tracker gateway, :mod:`.bridges.assets` for the asset register). The integration's hooks make one call through :func:`kind_of`,
and each platform adds its entities from a table keyed by kind (:func:`async_setup_by_kind`).
A new kind of device is one row in :data:`KINDS` and one in the tables of the platforms it has.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry, ConfigSubentryFlow, OptionsFlow
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.assets import runtime as asset_runtime
from .bridges.assets.flow import SUBENTRY_FLOWS as ASSET_SUBENTRY_FLOWS, AssetRegisterOptionsFlow
from .bridges.assets.runtime import AssetRegisterConfigEntry
from .bridges.trackers import diagnostics as tracker_diagnostics, runtime as tracker_runtime
from .bridges.trackers.flow import TrackerGatewayOptionsFlow, TrackerSubentryFlow
from .bridges.trackers.runtime import TrackerGatewayConfigEntry
from .bridges.wot import modbus as wot_modbus, runtime as wot_runtime
from .bridges.wot.coordinator import WotConfigEntry, WotRuntime, WotThingCoordinator
from .bridges.wot.flow import ThingBridgeOptionsFlow
from .bridges.wot.modbus_flow import ModbusOptionsFlow
from .const import (
    DOMAIN,
    KIND_ASSET_REGISTER,
    KIND_MODBUS_DEVICE,
    KIND_TRACKER_GATEWAY,
    KIND_WOT_DIRECTORY,
    KIND_WOT_THING,
    SUBENTRY_TRACKER,
    device_identifier,
    entry_kind,
)

__all__ = [
    "KINDS",
    "WOT_KINDS",
    "Kind",
    "PlatformSetup",
    "ThingBridgeConfigEntry",
    "async_setup_by_kind",
    "device_identifier",
    "kind_of",
]

type ThingBridgeConfigEntry = WotConfigEntry | TrackerGatewayConfigEntry | AssetRegisterConfigEntry
"""Every ThingBridge config entry; which one it is, :func:`kind_of` tells."""

type PlatformSetup = Callable[[ConfigEntry[Any], AddConfigEntryEntitiesCallback], None]
"""How a platform adds the entities of one kind's entry (a value of a platform's table)."""

_NO_THINGS: Final[Mapping[str, WotThingCoordinator]] = MappingProxyType({})


async def _nothing_to_do(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """The default of :attr:`Kind.async_unload` and :attr:`Kind.async_remove`."""


def _no_things(entry: ConfigEntry[Any]) -> Mapping[str, WotThingCoordinator]:
    """The default of :attr:`Kind.things`: an entry without Web of Things Things."""
    return _NO_THINGS


@dataclass(frozen=True, kw_only=True, slots=True)
class Kind[R]:
    """What every entry of one kind has and does; ``R`` is the type of its runtime data.

    Attributes:
        key: The kind, as stored in the entry's data (``CONF_KIND``).
        platforms: The platforms its entries set up; each has a row for ``key`` in its table.
        async_setup: Starts the entry and sets its runtime data (the platforms come next).
            Raises ``ConfigEntryNotReady`` and the like, as Home Assistant expects.
        async_unload: Stops the entry once its platforms are unloaded.
        async_remove: Deletes what the entry stored once the entry is deleted (the entry is
            not loaded then: no runtime data).
        can_remove_device: Whether the user may delete one of the entry's devices.
        diagnostics: The entry's diagnostics, credentials redacted.
        device_diagnostics: One device's diagnostics (``{}`` for a device the entry lost).
        things: The entry's Web of Things Things by key: what the actions and device triggers
            target (none for kinds without Things).
        options_flow: Makes the entry's options flow (**⋮ → Configure**).
        subentry_flows: The subentries its entries hold, by subentry type, and their flows.
    """

    key: str
    platforms: tuple[Platform, ...]
    async_setup: Callable[[HomeAssistant, ConfigEntry[R]], Awaitable[None]]
    async_unload: Callable[[HomeAssistant, ConfigEntry[R]], Awaitable[None]] = _nothing_to_do
    async_remove: Callable[[HomeAssistant, ConfigEntry[Any]], Awaitable[None]] = _nothing_to_do
    can_remove_device: Callable[[ConfigEntry[R], dr.DeviceEntry], bool]
    diagnostics: Callable[[HomeAssistant, ConfigEntry[R]], Awaitable[dict[str, Any]]]
    device_diagnostics: Callable[[ConfigEntry[R], dr.DeviceEntry], dict[str, Any]]
    things: Callable[[ConfigEntry[R]], Mapping[str, WotThingCoordinator]] = _no_things
    options_flow: Callable[[], OptionsFlow]
    subentry_flows: Mapping[str, type[ConfigSubentryFlow]] = MappingProxyType({})


def _wot(key: str, setup: Callable[[HomeAssistant, WotConfigEntry], Awaitable[None]]) -> Kind[Any]:
    """A Web of Things kind: one Thing or a directory differ only in how they set up."""
    return Kind[WotRuntime](
        key=key,
        platforms=wot_runtime.WOT_PLATFORMS,
        async_setup=setup,
        can_remove_device=wot_runtime.can_remove_device,
        diagnostics=wot_runtime.async_entry_diagnostics,
        device_diagnostics=wot_runtime.device_diagnostics,
        things=wot_runtime.things,
        options_flow=ThingBridgeOptionsFlow,
    )


KINDS: Final[Mapping[str, Kind[Any]]] = MappingProxyType(
    {
        KIND_WOT_THING: _wot(KIND_WOT_THING, wot_runtime.async_setup_thing),
        KIND_WOT_DIRECTORY: _wot(KIND_WOT_DIRECTORY, wot_runtime.async_setup_directory),
        # A Modbus device is a Thing too: the same entities, actions and diagnostics.
        KIND_MODBUS_DEVICE: Kind[WotRuntime](
            key=KIND_MODBUS_DEVICE,
            platforms=wot_runtime.WOT_PLATFORMS,
            async_setup=wot_modbus.async_setup_modbus_device,
            can_remove_device=wot_runtime.can_remove_device,
            diagnostics=wot_runtime.async_entry_diagnostics,
            device_diagnostics=wot_runtime.device_diagnostics,
            things=wot_runtime.things,
            options_flow=ModbusOptionsFlow,
        ),
        KIND_TRACKER_GATEWAY: Kind[tracker_runtime.TrackerGatewayRuntime](
            key=KIND_TRACKER_GATEWAY,
            platforms=tracker_runtime.TRACKER_PLATFORMS,
            async_setup=tracker_runtime.async_setup_gateway,
            async_unload=tracker_runtime.async_unload_gateway,
            async_remove=tracker_runtime.async_remove_gateway,
            can_remove_device=tracker_runtime.async_can_remove_device,
            diagnostics=tracker_diagnostics.async_gateway_diagnostics,
            device_diagnostics=tracker_diagnostics.tracker_device_diagnostics,
            options_flow=TrackerGatewayOptionsFlow,
            subentry_flows=MappingProxyType({SUBENTRY_TRACKER: TrackerSubentryFlow}),
        ),
        KIND_ASSET_REGISTER: Kind[asset_runtime.AssetRegisterRuntime](
            key=KIND_ASSET_REGISTER,
            platforms=asset_runtime.ASSET_PLATFORMS,
            async_setup=asset_runtime.async_setup_register,
            async_unload=asset_runtime.async_unload_register,
            async_remove=asset_runtime.async_remove_register,
            can_remove_device=asset_runtime.async_can_remove_device,
            diagnostics=asset_runtime.async_register_diagnostics,
            device_diagnostics=asset_runtime.asset_device_diagnostics,
            options_flow=AssetRegisterOptionsFlow,
            subentry_flows=MappingProxyType(dict(ASSET_SUBENTRY_FLOWS)),
        ),
    }
)
# The kinds whose entries hold Web of Things Things (and have the same entities).
WOT_KINDS: Final = (KIND_WOT_THING, KIND_WOT_DIRECTORY, KIND_MODBUS_DEVICE)


def kind_of(entry: ConfigEntry[Any]) -> Kind[Any]:
    """The kind of ``entry`` (entries made before kinds existed are Things).

    Raises:
        ConfigEntryError: The entry is of a kind this version does not know (made by a newer
            version, or edited by hand): it is refused rather than guessed at.
    """
    key = entry_kind(entry.data)
    try:
        return KINDS[key]
    except KeyError:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="unknown_kind",
            translation_placeholders={"kind": repr(key)[:60]},
        ) from None


def async_setup_by_kind(
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    factories: Mapping[str, PlatformSetup],
) -> None:
    """Add a platform's entities for ``entry`` with the row of its kind in ``factories``."""
    factories[kind_of(entry).key](entry, async_add_entities)
