"""Calendar: the asset register's due dates (check-outs' expected returns, maintenance)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

from homeassistant.components.calendar import CalendarEntity, CalendarEvent
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .bridges.assets.entity import RegisterBaseEntity, asset_platform
from .bridges.assets.runtime import AssetRegisterRuntime
from .const import KIND_ASSET_REGISTER
from .kinds import PlatformSetup, ThingBridgeConfigEntry, async_setup_by_kind

PARALLEL_UPDATES = 0
# A due date is shown as an event this long, ending at the due time.
DUE_EVENT_LENGTH: Final = timedelta(minutes=30)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the register's calendar (only the asset register has this platform)."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


class AssetDueCalendar(RegisterBaseEntity, CalendarEntity):
    """When each checked-out asset is expected back, and when maintenance comes due."""

    _attr_translation_key = "due_dates"

    def __init__(self, runtime: AssetRegisterRuntime) -> None:
        """One calendar on the register's device."""
        super().__init__(runtime, "calendar")

    def _events(self) -> list[CalendarEvent]:
        events = []
        for asset in self.runtime.assets.values():
            if (expected_return := asset.expected_return) is not None:
                due = dt_util.as_local(expected_return)
                events.append(
                    CalendarEvent(
                        start=due - DUE_EVENT_LENGTH,
                        end=due,
                        summary=f"{asset.name} ({asset.config.tag}) due back",
                        description=asset.custodian,
                        uid=f"checkout_{asset.subentry_id}",
                    )
                )
            due_state, plan = asset.maintenance, asset.plan
            if due_state is not None and plan is not None:
                for measure in due_state.measures:
                    if measure.due_at is None:
                        continue
                    due = dt_util.as_local(measure.due_at)
                    events.append(
                        CalendarEvent(
                            start=due - DUE_EVENT_LENGTH,
                            end=due,
                            summary=f"{asset.name} ({asset.config.tag}): {plan.name} due",
                            description=measure.measure,
                            uid=f"maintenance_{asset.subentry_id}_{measure.measure}",
                        )
                    )
        return sorted(events, key=lambda event: event.start_datetime_local)

    @property
    def event(self) -> CalendarEvent | None:
        """The next (or current) due date."""
        now = dt_util.now()
        return next((e for e in self._events() if e.end_datetime_local > now), None)

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        """The due dates between ``start_date`` and ``end_date``."""
        return [
            event
            for event in self._events()
            if event.end_datetime_local > start_date and event.start_datetime_local < end_date
        ]


FACTORIES: Final[Mapping[str, PlatformSetup]] = {
    KIND_ASSET_REGISTER: asset_platform(
        lambda runtime, asset: [], lambda runtime: [AssetDueCalendar(runtime)]
    )
}
