"""Position history that a pillar keeps better than the recorder, offered to the others.

A pillar that stores every fix of some entities (the tracker gateway's position journal holds
every record its trackers sent, buffered history included, kept past the recorder's purge and
safe from a crash) registers a :class:`PositionHistoryProvider` while its entry is loaded;
another pillar (the asset register) asks :func:`async_get_position_history` for an entity's
history and falls back to Home Assistant's recorder when no provider has that entity. Neither
pillar imports the other: this module is the neutral meeting point. Config entries start in
no set order, so a reader that found no provider for an entity can
:func:`async_listen_position_history` and read again once one registers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Final, Protocol

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.util.hass_dict import HassKey

from .const import DATA_POSITION_HISTORY

# The most fixes one history call returns (a week of a tracker reporting every 6 s).
MAX_HISTORY_FIXES: Final = 100_000


@dataclass(slots=True)
class _Registry:
    providers: list[PositionHistoryProvider] = field(default_factory=list)
    listeners: list[Callable[[], None]] = field(default_factory=list)


_REGISTRY: Final[HassKey[_Registry]] = HassKey(DATA_POSITION_HISTORY)


@dataclass(frozen=True, slots=True)
class HistoricalFix:
    """One stored fix of an entity.

    Attributes:
        time: The device's time of the fix (aware, UTC); the same value the entity's
            ``fix_time`` attribute carried when it showed the fix, so a fix seen live and
            read back is recognised as one.
        latitude: Degrees, WGS84.
        longitude: Degrees, WGS84.
        accuracy_m: Horizontal accuracy in metres, when known.
        speed_kmh: Speed in km/h, when reported.
        ignition: Ignition, when reported.
        odometer_m: The device's odometer in metres, when reported.
        key: A stable identity of the stored record (for instance a journal's sequence
            number): a record read twice (across pages) has the same key.
    """

    time: datetime
    latitude: float
    longitude: float
    accuracy_m: float | None = None
    speed_kmh: float | None = None
    ignition: bool | None = None
    odometer_m: float | None = None
    key: str | None = None


type PositionHistory = Callable[[datetime, datetime | None, int], Awaitable[list[HistoricalFix]]]


class PositionHistoryProvider(Protocol):
    """What a pillar that keeps position history registers."""

    def handles(self, entity_id: str) -> bool:
        """Whether this provider has the history of ``entity_id`` (looked up at every call)."""

    async def history(
        self, entity_id: str, start: datetime, end: datetime | None, limit: int
    ) -> list[HistoricalFix]:
        """The fixes of ``entity_id`` with ``start <= time`` (and ``time < end``), oldest first.

        At most ``limit`` (the oldest ones). Raises whatever it must when the history cannot
        be read; callers fall back to the recorder.
        """


@callback
def async_register_position_history(
    hass: HomeAssistant, provider: PositionHistoryProvider
) -> CALLBACK_TYPE:
    """Offer ``provider``'s history (and tell the listeners); returns the withdrawing callback."""
    registry = hass.data.setdefault(_REGISTRY, _Registry())
    providers = registry.providers
    providers.append(provider)
    for listener in list(registry.listeners):
        listener()

    @callback
    def unregister() -> None:
        if provider in providers:
            providers.remove(provider)

    return unregister


@callback
def async_get_position_history(hass: HomeAssistant, entity_id: str) -> PositionHistory | None:
    """The history of ``entity_id`` from a registered provider (``None`` when none has it).

    The returned callable takes ``(start, end, limit)``.
    """
    registry = hass.data.get(_REGISTRY)
    for provider in reversed(registry.providers if registry is not None else ()):
        if provider.handles(entity_id):
            return partial(provider.history, entity_id)
    return None


@callback
def async_listen_position_history(
    hass: HomeAssistant, listener: Callable[[], None]
) -> CALLBACK_TYPE:
    """Call ``listener`` whenever a provider registers; returns the remover."""
    listeners = hass.data.setdefault(_REGISTRY, _Registry()).listeners
    listeners.append(listener)

    @callback
    def remove() -> None:
        if listener in listeners:
            listeners.remove(listener)

    return remove


__all__ = [
    "MAX_HISTORY_FIXES",
    "HistoricalFix",
    "PositionHistory",
    "PositionHistoryProvider",
    "async_get_position_history",
    "async_listen_position_history",
    "async_register_position_history",
]
