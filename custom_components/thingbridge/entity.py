"""Base entity for ThingBridge."""

from __future__ import annotations

from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import WotThingCoordinator


class WotThingEntity(CoordinatorEntity[WotThingCoordinator]):
    """An entity backed by one affordance of a Web of Things Thing."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: WotThingCoordinator, affordance: str) -> None:
        """Bind the entity to ``affordance`` and put it on the Thing's device."""
        super().__init__(coordinator)
        entry = coordinator.config_entry
        td = coordinator.td
        self.affordance = affordance
        self._attr_unique_id = f"{entry.unique_id}_{affordance}"
        base = td.base
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, str(entry.unique_id))},
            name=td.title,
            model=", ".join(td.semantic_types) or None,
            configuration_url=str(base.origin())
            if base is not None and base.scheme in ("http", "https")
            else None,
        )
