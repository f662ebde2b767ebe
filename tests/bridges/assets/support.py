"""Helpers shared by the asset register's tests: zones, the register, its subentries."""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.setup import async_setup_component

from custom_components.thingbridge.const import (
    ASSET_REGISTER_UNIQUE_ID,
    DOMAIN,
    KIND_ASSET_REGISTER,
    SUBENTRY_ASSET,
    SUBENTRY_GEOFENCE,
)
from tests.conftest import TRANSLATIONS

# A depot (circle of 300 m) whose yard is the northern strip of the circle: the polygon.
DEPOT = (52.5200, 13.4050)
DEPOT_YARD = {
    "type": "Polygon",
    "coordinates": [
        [[13.4020, 52.5195], [13.4080, 52.5195], [13.4080, 52.5230], [13.4020, 52.5230],
         [13.4020, 52.5195]]
    ],
}  # fmt: skip
CUSTOMER_A = (52.5300, 13.4300)
CUSTOMER_B = (52.5100, 13.4500)
ZONES = [
    {"name": "Depot", "latitude": DEPOT[0], "longitude": DEPOT[1], "radius": 300},
    {"name": "Customer A", "latitude": CUSTOMER_A[0], "longitude": CUSTOMER_A[1], "radius": 150},
    {"name": "Customer B", "latitude": CUSTOMER_B[0], "longitude": CUSTOMER_B[1], "radius": 150},
]


async def setup_zones(hass: HomeAssistant) -> None:
    """The depot and two customers as Home Assistant zones (plus zone.home)."""
    assert await async_setup_component(hass, "zone", {"zone": ZONES})
    await hass.async_block_till_done()


def check_flow(result: Mapping[str, Any], section: str = "config") -> dict[str, Any]:
    """Fail when a flow result names a step, error or reason without English text.

    ``section``: ``config``, ``options`` or a subentry type. Every placeholder an error's
    text names must be given.
    """
    texts = (
        TRANSLATIONS[section]
        if section in ("config", "options")
        else TRANSLATIONS["config_subentries"][section]
    )
    if result["type"] is FlowResultType.FORM:
        assert result["step_id"] in texts["step"], result["step_id"]
        placeholders = result.get("description_placeholders") or {}
        for error in (result.get("errors") or {}).values():
            assert error in texts["error"], f"error {error} has no translation"
            for needed in re.findall(r"\{(\w+)\}", texts["error"][error]):
                assert needed in placeholders, f"{error} needs {needed}"
    elif result["type"] is FlowResultType.ABORT:
        assert result["reason"] in texts["abort"], result["reason"]
    return dict(result)


async def add_register(hass: HomeAssistant, **options: Any) -> ConfigEntry[Any]:
    """Set up the register through its config flow; return the loaded entry."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": KIND_ASSET_REGISTER}
    )
    data = {"tag_prefix": "VAN-", "overdue_reminders": True, "not_seen_hours": 24} | options
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry = hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, ASSET_REGISTER_UNIQUE_ID)
    assert entry is not None
    return entry


async def add_subentry(
    hass: HomeAssistant, entry: ConfigEntry[Any], subentry_type: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Run a subentry flow with ``data``; return the last result."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, subentry_type), context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], data)
    await hass.async_block_till_done()
    return check_flow(result, subentry_type)


async def add_geofence(
    hass: HomeAssistant, entry: ConfigEntry[Any], name: str, zone: str, polygon: str
) -> str:
    """Add a geofence; return its subentry ID."""
    result = await add_subentry(
        hass, entry, SUBENTRY_GEOFENCE, {"name": name, "zone": zone, "polygon": polygon}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    entry = hass.config_entries.async_get_entry(entry.entry_id)  # type: ignore[assignment]
    return next(s.subentry_id for s in entry.subentries.values() if s.title == name)


async def add_asset(hass: HomeAssistant, entry: ConfigEntry[Any], **data: Any) -> str:
    """Add an asset; return its subentry ID."""
    data = {"category": "vehicle", "home_zone": "zone.depot"} | data
    result = await add_subentry(hass, entry, SUBENTRY_ASSET, data)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    return next(s.subentry_id for s in entry.subentries.values() if s.title == data["name"])
