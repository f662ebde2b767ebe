"""Binary sensors: read-only boolean properties (motion, open, leak, ...); tracker states."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.assets.entity import AssetBaseEntity, asset_platform
from .bridges.assets.runtime import Asset, AssetRegisterRuntime
from .bridges.trackers.entity import TrackerBaseEntity, tracker_platform
from .bridges.trackers.runtime import TrackerDevice
from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import WotThingEntity, wot_platform
from .const import KIND_ASSET_REGISTER, KIND_TRACKER_GATEWAY
from .kinds import WOT_KINDS, PlatformSetup, ThingBridgeConfigEntry, async_setup_by_kind
from .wot import BINARY_SENSOR, EntitySpec

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a binary sensor for every read-only boolean property, or each tracker's states."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


class WotBinarySensor(WotThingEntity, BinarySensorEntity):
    """A read-only boolean property."""

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Use the mapped device class."""
        super().__init__(coordinator, spec)
        if spec.device_class:
            self._attr_device_class = BinarySensorDeviceClass(spec.device_class)

    @property
    def is_on(self) -> bool | None:
        """The property's value; ``None`` when it is not a boolean."""
        value = self.prop_value()
        return value if isinstance(value, bool) else None


# -- GPS trackers ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TrackerBinarySensorDescription(BinarySensorEntityDescription):
    """An on/off state of a GPS tracker.

    Attributes:
        is_on_fn: Reads the state from the tracker (``None``: unknown).
    """

    is_on_fn: Callable[[TrackerDevice], bool | None]


def _flag(name: str) -> Callable[[TrackerDevice], bool | None]:
    def read(device: TrackerDevice) -> bool | None:
        value = device.state.value(name)
        return value if isinstance(value, bool) else None

    return read


TRACKER_BINARY_SENSORS: tuple[TrackerBinarySensorDescription, ...] = (
    TrackerBinarySensorDescription(
        key="ignition",
        translation_key="ignition",
        is_on_fn=_flag("ignition"),
    ),
    TrackerBinarySensorDescription(
        key="motion",
        translation_key="motion",
        device_class=BinarySensorDeviceClass.MOVING,
        is_on_fn=_flag("motion"),
    ),
    TrackerBinarySensorDescription(
        key="online",
        translation_key="online",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        is_on_fn=lambda device: device.online,
    ),
)


class TrackerBinarySensor(TrackerBaseEntity, BinarySensorEntity):
    """An on/off state of a GPS tracker."""

    entity_description: TrackerBinarySensorDescription

    def __init__(self, device: TrackerDevice, description: TrackerBinarySensorDescription) -> None:
        """Describe the binary sensor."""
        super().__init__(device, description.key)
        self.entity_description = description

    @property
    def is_on(self) -> bool | None:
        """The tracker's newest state."""
        return self.entity_description.is_on_fn(self.device)


# -- assets -----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AssetBinarySensorDescription(BinarySensorEntityDescription):
    """A problem an asset can have.

    Attributes:
        is_on_fn: Reads the state from the asset (``None``: unknown).
    """

    is_on_fn: Callable[[Asset], bool | None]


ASSET_BINARY_SENSORS: tuple[AssetBinarySensorDescription, ...] = (
    AssetBinarySensorDescription(
        key="outside_allowed_area",
        translation_key="outside_allowed_area",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda asset: asset.outside_allowed,
    ),
    AssetBinarySensorDescription(
        key="not_seen",
        translation_key="not_seen",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda asset: asset.not_seen,
    ),
    AssetBinarySensorDescription(
        key="overdue",
        translation_key="overdue",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda asset: asset.overdue,
    ),
    AssetBinarySensorDescription(
        key="maintenance_due",
        translation_key="maintenance_due",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=lambda asset: (
            None if asset.maintenance is None else asset.maintenance.status == "due"
        ),
    ),
    AssetBinarySensorDescription(
        key="unaccompanied",
        translation_key="unaccompanied",
        device_class=BinarySensorDeviceClass.SAFETY,
        is_on_fn=lambda asset: asset.unaccompanied,
    ),
)


class AssetBinarySensor(AssetBaseEntity, BinarySensorEntity):
    """A problem of an asset."""

    entity_description: AssetBinarySensorDescription

    def __init__(
        self,
        runtime: AssetRegisterRuntime,
        asset: Asset,
        description: AssetBinarySensorDescription,
    ) -> None:
        """Describe the binary sensor."""
        super().__init__(runtime, asset, description.key)
        self.entity_description = description

    @property
    def is_on(self) -> bool | None:
        """Whether the asset has the problem now."""
        return self.entity_description.is_on_fn(self.asset)


FACTORIES: Final[Mapping[str, PlatformSetup]] = {
    **dict.fromkeys(WOT_KINDS, wot_platform(BINARY_SENSOR, WotBinarySensor)),
    KIND_TRACKER_GATEWAY: tracker_platform(
        lambda device: [TrackerBinarySensor(device, d) for d in TRACKER_BINARY_SENSORS]
    ),
    KIND_ASSET_REGISTER: asset_platform(
        lambda runtime, asset: [AssetBinarySensor(runtime, asset, d) for d in ASSET_BINARY_SENSORS]
    ),
}
