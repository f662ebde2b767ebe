"""Base entities of the asset register: one device per asset, and the register's own device."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from ...const import ASSET_REGISTER_DEVICE_KEY, KIND_ASSET_REGISTER, device_identifier
from .runtime import Asset, AssetRegisterConfigEntry, AssetRegisterRuntime


def asset_platform(
    factory: Callable[[AssetRegisterRuntime, Asset], Iterable[Entity]],
    register_factory: Callable[[AssetRegisterRuntime], Iterable[Entity]] | None = None,
) -> Callable[[AssetRegisterConfigEntry, AddConfigEntryEntitiesCallback], None]:
    """A platform's row for the register: each asset's entities, and the register's own."""

    def setup(
        entry: AssetRegisterConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
    ) -> None:
        runtime = entry.runtime_data
        for asset in runtime.assets.values():
            async_add_entities(factory(runtime, asset), config_subentry_id=asset.subentry_id)
        if register_factory is not None:
            async_add_entities(register_factory(runtime))

    return setup


def asset_device_info(asset: Asset) -> DeviceInfo:
    """The device registry entry of an asset."""
    return DeviceInfo(
        identifiers={device_identifier(KIND_ASSET_REGISTER, asset.subentry_id)},
        name=asset.name,
        model=asset.config.category,
        serial_number=asset.config.tag,
    )


def register_device_info() -> DeviceInfo:
    """The register's own device (its to-do list and calendar)."""
    return DeviceInfo(
        identifiers={device_identifier(KIND_ASSET_REGISTER, ASSET_REGISTER_DEVICE_KEY)},
        name="Asset register",
    )


class AssetBaseEntity(Entity):
    """An entity of one asset, written whenever the asset changed."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, runtime: AssetRegisterRuntime, asset: Asset, key: str) -> None:
        """Put the entity on the asset's device; ``key`` names it within the device."""
        self.runtime = runtime
        self.asset = asset
        self._attr_unique_id = f"asset_{asset.subentry_id}_{key}"
        self._attr_device_info = asset_device_info(asset)

    async def async_added_to_hass(self) -> None:
        """Follow the asset's changes."""
        await super().async_added_to_hass()
        self.async_on_remove(self.asset.async_add_listener(self._handle_update))

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()


class RegisterBaseEntity(Entity):
    """An entity of the register's own device, written whenever custody or due states changed."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, runtime: AssetRegisterRuntime, key: str) -> None:
        """Put the entity on the register's device."""
        self.runtime = runtime
        self._attr_unique_id = f"asset_register_{key}"
        self._attr_device_info = register_device_info()

    async def async_added_to_hass(self) -> None:
        """Follow the register's changes."""
        await super().async_added_to_hass()
        self.async_on_remove(self.runtime.async_add_register_listener(self._handle_update))

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()
