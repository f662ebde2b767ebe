"""Device trackers: where each GPS tracker is (its newest valid fix), and where each asset is.

The GPS tracker gateway and the asset register have device trackers. Each fix that becomes the newest is written
as a state of its own, so the map's history path shows every point of a batch (a Teltonika
packet carries several records) rather than one per packet. The battery is a sensor of its own:
``battery_level`` on trackers is deprecated in Home Assistant (it stops working in 2027.7).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from homeassistant.components.device_tracker.const import SourceType
from homeassistant.components.device_tracker.entity import TrackerEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.assets.entity import AssetBaseEntity, asset_platform
from .bridges.assets.runtime import Asset, AssetRegisterRuntime
from .bridges.trackers.entity import TrackerBaseEntity, tracker_platform
from .bridges.trackers.runtime import TrackerDevice
from .const import KIND_ASSET_REGISTER, KIND_TRACKER_GATEWAY
from .kinds import PlatformSetup, ThingBridgeConfigEntry, async_setup_by_kind
from .m2m import Fix

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a device tracker for every GPS tracker (only the gateway has this platform)."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


class TrackerLocation(TrackerBaseEntity, TrackerEntity):
    """The position of a GPS tracker."""

    _attr_name = None  # the device's name
    _attr_translation_key = "location"
    _attr_source_type = SourceType.GPS
    # Home Assistant files trackers under Diagnostic by default (BaseTrackerEntity types the
    # attribute as EntityCategory only, hence the ignore); for a fleet the location is the
    # primary entity. The registry takes the category from the entity at every start, so the
    # locations of existing installations move too.
    _attr_entity_category = None  # type: ignore[assignment]

    def __init__(self, device: TrackerDevice) -> None:
        """Show the tracker's last known fix (restored at startup)."""
        super().__init__(device, "location")
        if device.state.fix is not None:
            self._show(device.state.fix)

    async def async_added_to_hass(self) -> None:
        """Follow every new fix (the base class follows the other updates)."""
        await super().async_added_to_hass()
        self.async_on_remove(self.device.async_add_fix_listener(self._handle_fix))

    def _show(self, fix: Fix) -> None:
        self._attr_latitude = fix.latitude
        self._attr_longitude = fix.longitude
        self._attr_location_accuracy = fix.accuracy_m
        # The device's time of this fix: what follows the tracker (an asset's trips) orders
        # fixes by it, not by when a batch of them was written.
        self._attr_extra_state_attributes = {"fix_time": fix.time.isoformat()}

    @callback
    def _handle_fix(self, fix: Fix) -> None:
        self._show(fix)
        self.async_write_ha_state()

    @callback
    def _handle_update(self) -> None:
        """Other values changed: the location entity has nothing new to write."""


class AssetLocation(AssetBaseEntity, TrackerEntity):
    """Where an asset is: its position, and the zones that contain it (polygons first).

    ``in_zones`` takes precedence over latitude and longitude in Home Assistant (2026.6+):
    the state, persons following the tracker and the zone triggers and conditions all read
    it, so a zone refined by a polygon geofence contains the asset only inside the polygon.
    """

    _attr_name = None  # the device's name
    _attr_translation_key = "asset"
    _attr_source_type = SourceType.GPS
    _attr_entity_category = None  # type: ignore[assignment]  # primary, see TrackerLocation

    def __init__(self, runtime: AssetRegisterRuntime, asset: Asset) -> None:
        """Show the asset's last known position (restored at startup)."""
        super().__init__(runtime, asset, "location")
        self._show()

    def _show(self) -> bool:
        """Take the asset's position and zones; whether they changed."""
        position = self.asset.position
        shown = (
            self.asset.in_zones if position is not None else None,
            position.latitude if position else None,
            position.longitude if position else None,
            position.accuracy_m if position else 0,
        )
        changed = shown != (
            self._attr_in_zones,
            self._attr_latitude,
            self._attr_longitude,
            self._attr_location_accuracy,
        )
        (
            self._attr_in_zones,
            self._attr_latitude,
            self._attr_longitude,
            self._attr_location_accuracy,
        ) = shown
        return changed

    @callback
    def _handle_update(self) -> None:
        """Write a new state only when the position or the zones changed.

        A tracker's state is written even when it is the same (``force_update``); the asset's
        other values change every minute (the scheduler), its position does not.
        """
        if self._show():
            self.async_write_ha_state()


FACTORIES: Final[Mapping[str, PlatformSetup]] = {
    KIND_TRACKER_GATEWAY: tracker_platform(lambda device: [TrackerLocation(device)]),
    KIND_ASSET_REGISTER: asset_platform(lambda runtime, asset: [AssetLocation(runtime, asset)]),
}
