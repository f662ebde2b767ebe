"""Coordinators: they own the protocol clients and feed the entities."""

from __future__ import annotations

import asyncio
from typing import Any, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .const import DOMAIN, LOGGER, SCAN_INTERVAL
from .wot import (
    ThingDescription,
    WotClient,
    WotConnectionError,
    WotError,
    WotValidationError,
    fetch_thing_description,
)

type ThingBridgeConfigEntry = ConfigEntry[WotThingCoordinator]


class WotThingCoordinator(DataUpdateCoordinator[dict[str, Any]]):
    """Fetches a Thing's TD once, then keeps its readable property values current."""

    config_entry: ThingBridgeConfigEntry
    client: WotClient

    def __init__(self, hass: HomeAssistant, entry: ThingBridgeConfigEntry) -> None:
        """Set up for the Thing whose TD is at the entry's URL."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {entry.title}",
            update_interval=SCAN_INTERVAL,
        )
        self._session = async_get_clientsession(hass)

    @property
    def td(self) -> ThingDescription:
        """The Thing Description."""
        return self.client.td

    @override
    async def _async_setup(self) -> None:
        """Fetch and parse the TD before the first refresh."""
        url = self.config_entry.data[CONF_URL]
        try:
            td = await fetch_thing_description(self._session, url)
        except WotValidationError as err:
            raise ConfigEntryError(
                translation_domain=DOMAIN,
                translation_key="invalid_td",
                translation_placeholders={"url": url, "error": str(err)},
            ) from err
        except WotError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="td_unreachable",
                translation_placeholders={"url": url, "error": str(err)},
            ) from err
        self.client = WotClient(self._session, td)

    @override
    async def _async_update_data(self) -> dict[str, Any]:
        """Read every readable property; fail only when the Thing cannot be reached at all."""
        names = [
            name
            for name, prop in self.td.properties.items()
            if prop.form_for("readproperty") is not None
        ]
        results = await asyncio.gather(
            *(self.client.read_property(name) for name in names), return_exceptions=True
        )
        values: dict[str, Any] = {}
        errors: list[BaseException] = []
        for name, result in zip(names, results, strict=True):
            if isinstance(result, WotError):
                errors.append(result)
                LOGGER.debug("Reading %s of %s failed: %s", name, self.td.title, result)
            elif isinstance(result, BaseException):
                raise result
            else:
                values[name] = result
        if names and not values and any(isinstance(e, WotConnectionError) for e in errors):
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="thing_unreachable",
                translation_placeholders={"title": self.td.title, "error": str(errors[0])},
            )
        return values
