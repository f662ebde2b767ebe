"""To-do list: the asset register's maintenance that is due or coming due.

One item per asset whose maintenance plan is due or soon due; checking it off records the
maintenance as done now, with the asset's current readings (engine hours, odometer), as the
``thingbridge.record_maintenance`` action does without cost or note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from homeassistant.components.todo.const import TodoItemStatus, TodoListEntityFeature
from homeassistant.components.todo.entity import TodoItem, TodoListEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .bridges.assets.entity import RegisterBaseEntity, asset_platform
from .bridges.assets.runtime import AssetRegisterRuntime
from .const import KIND_ASSET_REGISTER
from .kinds import PlatformSetup, ThingBridgeConfigEntry, async_setup_by_kind

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the register's maintenance list (only the asset register has this platform)."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


class MaintenanceTodo(RegisterBaseEntity, TodoListEntity):
    """The maintenance that is due or coming due, one item per asset."""

    _attr_translation_key = "maintenance"
    _attr_supported_features = TodoListEntityFeature.UPDATE_TODO_ITEM

    def __init__(self, runtime: AssetRegisterRuntime) -> None:
        """One list on the register's device."""
        super().__init__(runtime, "maintenance")

    @property
    def todo_items(self) -> list[TodoItem]:
        """An item for every asset whose plan is due or soon due."""
        items = []
        for asset in self.runtime.assets.values():
            due, plan = asset.maintenance, asset.plan
            if due is None or plan is None or due.status == "ok":
                continue
            first = due.next
            items.append(
                TodoItem(
                    summary=f"{asset.name} ({asset.config.tag}): {plan.name}",
                    uid=asset.subentry_id,
                    status=TodoItemStatus.NEEDS_ACTION,
                    due=first.due_at if first is not None and first.due_at else None,
                    description=due.status,
                )
            )
        return items

    async def async_update_todo_item(self, item: TodoItem) -> None:
        """Checking an item off records the maintenance as done now (with today's readings).

        Home Assistant passes only items of this list; anything but checking one off (a new
        summary, reopening) changes nothing.
        """
        asset = self.runtime.assets.get(item.uid or "")
        if asset is None or asset.plan is None or item.status != TodoItemStatus.COMPLETED:
            return
        self.runtime.async_record_maintenance(asset, dt_util.utcnow(), asset.readings(), via="todo")


FACTORIES: Final[Mapping[str, PlatformSetup]] = {
    KIND_ASSET_REGISTER: asset_platform(
        lambda runtime, asset: [], lambda runtime: [MaintenanceTodo(runtime)]
    )
}
