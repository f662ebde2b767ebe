"""Base entity of the GPS trackers, and the glue that adds them as trackers come and go.

Every tracker is one device on its own config subentry; its entities are pushed (the gateway
calls back as data arrives), so none of them polls. Entity descriptions (value functions,
which protocols carry the value) live in the platform modules, as in Home Assistant's core
integrations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ...const import KIND_TRACKER_GATEWAY, device_identifier
from ...m2m import SOURCES
from .runtime import TrackerDevice, TrackerGatewayConfigEntry


def async_setup_tracker_platform(
    entry: TrackerGatewayConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    factory: Callable[[TrackerDevice], Iterable[Entity]],
) -> None:
    """Add a platform's entities for every tracker now and for every tracker added later."""

    @callback
    def add(device: TrackerDevice) -> None:
        async_add_entities(factory(device), config_subentry_id=device.subentry_id)

    runtime = entry.runtime_data
    for device in runtime.devices.values():
        add(device)
    entry.async_on_unload(runtime.async_on_device_added(add))


def tracker_platform(
    factory: Callable[[TrackerDevice], Iterable[Entity]],
) -> Callable[[TrackerGatewayConfigEntry, AddConfigEntryEntitiesCallback], None]:
    """A platform's row for the tracker gateway: every tracker's entities, made by ``factory``."""

    def setup(
        entry: TrackerGatewayConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
    ) -> None:
        async_setup_tracker_platform(entry, async_add_entities, factory)

    return setup


def tracker_device_info(device: TrackerDevice) -> DeviceInfo:
    """The device registry entry of a tracker."""
    return DeviceInfo(
        identifiers={device_identifier(KIND_TRACKER_GATEWAY, device.key)},
        name=device.name,
        manufacturer=SOURCES[device.protocol].manufacturer,
        model=SOURCES[device.protocol].description,
        serial_number=device.device_id,
    )


class TrackerBaseEntity(Entity):
    """An entity of one GPS tracker, updated when the tracker sends data."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, device: TrackerDevice, key: str) -> None:
        """Put the entity on the tracker's device; ``key`` names it within the device."""
        self.device = device
        self._attr_unique_id = f"tracker_{device.protocol}_{device.device_id}_{key}"
        self._attr_device_info = tracker_device_info(device)

    async def async_added_to_hass(self) -> None:
        """Follow the tracker's updates."""
        await super().async_added_to_hass()
        self.async_on_remove(self.device.async_add_listener(self._handle_update))

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()
