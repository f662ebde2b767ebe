"""The asset register's config flow step, options flow, and asset and geofence subentry flows."""

from __future__ import annotations

import json
from typing import Any

from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.thingbridge.assets import AssetsError
from custom_components.thingbridge.bridges.assets.flow import geofence_error
from custom_components.thingbridge.config_flow import ThingBridgeConfigFlow
from custom_components.thingbridge.const import (
    DOMAIN,
    KIND_ASSET_REGISTER,
    SUBENTRY_ASSET,
    SUBENTRY_GEOFENCE,
)
from tests.bridges.assets.support import (
    DEPOT_YARD,
    add_asset,
    add_geofence,
    add_register,
    add_subentry,
    check_flow,
    setup_zones,
)


async def reconfigure(
    hass: HomeAssistant, entry: config_entries.ConfigEntry[Any], kind: str, subentry_id: str
) -> Any:
    return await hass.config_entries.subentries.async_init(
        (entry.entry_id, kind),
        context={"source": config_entries.SOURCE_RECONFIGURE, "subentry_id": subentry_id},
    )


async def _menu(hass: HomeAssistant) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert KIND_ASSET_REGISTER in result["menu_options"]
    return check_flow(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": KIND_ASSET_REGISTER}
        )
    )


async def test_register_step_creates_the_one_register(hass: HomeAssistant) -> None:
    result = await _menu(hass)
    assert result["step_id"] == "asset_register"
    suggested = {str(k): k.description["suggested_value"] for k in result["data_schema"].schema}
    assert suggested == {"tag_prefix": "ASSET-", "overdue_reminders": True, "not_seen_hours": 24}
    result = check_flow(
        await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {"tag_prefix": "V 1", "overdue_reminders": True, "not_seen_hours": 24},
        )
    )
    assert result["errors"] == {"tag_prefix": "invalid_tag_prefix"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"tag_prefix": " VAN- ", "overdue_reminders": False, "not_seen_hours": 6}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Asset register"
    assert result["options"] == {
        "tag_prefix": "VAN-",
        "overdue_reminders": False,
        "not_seen_hours": 6,
    }
    await hass.async_block_till_done()
    result = await _menu(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "register_exists"


async def test_two_register_forms_make_one_register(hass: HomeAssistant) -> None:
    first = await _menu(hass)
    second = await _menu(hass)
    data = {"tag_prefix": "VAN-", "overdue_reminders": True, "not_seen_hours": 24}
    result = await hass.config_entries.flow.async_configure(first["flow_id"], data)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    result = check_flow(await hass.config_entries.flow.async_configure(second["flow_id"], data))
    assert result["reason"] == "register_exists"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_register_options_and_reconfigure(hass: HomeAssistant) -> None:
    entry = await add_register(hass)
    result = check_flow(await hass.config_entries.options.async_init(entry.entry_id), "options")
    assert result["step_id"] == "register"
    result = check_flow(
        await hass.config_entries.options.async_configure(
            result["flow_id"],
            {"tag_prefix": "x" * 17, "overdue_reminders": True, "not_seen_hours": 2},
        ),
        "options",
    )
    assert result["errors"] == {"tag_prefix": "invalid_tag_prefix"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"tag_prefix": "TOOL-", "overdue_reminders": True, "not_seen_hours": 2}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options["tag_prefix"] == "TOOL-"
    assert entry.state is config_entries.ConfigEntryState.LOADED
    result = check_flow(
        await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": config_entries.SOURCE_RECONFIGURE, "entry_id": entry.entry_id},
        )
    )
    assert result["reason"] == "register_reconfigure"


def test_an_unknown_geofence_code_shows_the_librarys_message() -> None:
    error = geofence_error(AssetsError("something new", code="brand_new", where="ring 1"))
    assert error.key == "invalid_polygon"
    assert error.placeholders["message"] == "something new"
    assert error.placeholders["where"] == "ring 1"
    assert error.placeholders["detail"] == ""


@pytest.mark.parametrize(
    ("polygon", "error", "named"),
    [
        ("", "polygon_empty", {}),
        ('{"type": "Polygon", "coordinates": [[[13.40, 52.5]', "polygon_bad_json", {}),
        (
            "POLYGON((13.40 52.51, 13.41 52.51, 13.41 52.52, 13.40 52.52))",
            "polygon_ring_not_closed",
            {},
        ),
        ("LINESTRING(13.40 52.51, 13.41 52.51)", "polygon_not_polygon", {"kind": "LINESTRING"}),
        (
            json.dumps({"type": "Polygon", "coordinates": [[[1, 95], [2, 1], [3, 1], [1, 95]]]}),
            "polygon_latitude_range",
            {"value": "95"},
        ),
        (
            json.dumps(
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[13.4 + i * 1e-5, 52.5 + (i % 2) * 1e-5] for i in range(501)]
                        + [[13.4, 52.5]]
                    ],
                }
            ),
            "polygon_too_many_vertices",
            {"limit": "500"},
        ),
    ],
)
async def test_geofence_errors_name_what_is_wrong(
    hass: HomeAssistant, polygon: str, error: str, named: dict[str, str]
) -> None:
    await setup_zones(hass)
    entry = await add_register(hass)
    result = await add_subentry(
        hass, entry, SUBENTRY_GEOFENCE, {"name": "Yard", "zone": "zone.depot", "polygon": polygon}
    )
    assert result["errors"] == {"polygon": error}
    for key, value in named.items():
        assert value in result["description_placeholders"][key]


async def test_geofence_subentry_add_and_reconfigure(hass: HomeAssistant) -> None:
    await setup_zones(hass)
    entry = await add_register(hass)
    result = await add_subentry(
        hass, entry, SUBENTRY_GEOFENCE, {"name": " ", "zone": "zone.depot", "polygon": "x"}
    )
    assert result["errors"] == {"name": "empty_name"}
    result = await add_subentry(
        hass, entry, SUBENTRY_GEOFENCE, {"name": "Yard", "zone": "zone.nowhere", "polygon": "x"}
    )
    assert result["errors"] == {"zone": "zone_not_found"}
    yard = await add_geofence(hass, entry, "Yard", "zone.depot", json.dumps(DEPOT_YARD))
    assert entry.subentries[yard].data["zone"] == "zone.depot"
    wkt = "POLYGON((13.40 52.51, 13.41 52.51, 13.41 52.52, 13.40 52.51))"
    result = check_flow(await reconfigure(hass, entry, SUBENTRY_GEOFENCE, yard), SUBENTRY_GEOFENCE)
    assert result["step_id"] == "reconfigure"
    suggested = {str(k): k.description["suggested_value"] for k in result["data_schema"].schema}
    assert suggested["name"] == "Yard"
    result = check_flow(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"name": "Yard", "zone": "zone.depot", "polygon": "POLYGON(("}
        ),
        SUBENTRY_GEOFENCE,
    )
    assert result["errors"] == {"polygon": "polygon_bad_wkt"}
    result = check_flow(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"name": "Yard 2", "zone": "zone.customer_a", "polygon": wkt}
        ),
        SUBENTRY_GEOFENCE,
    )
    assert result["reason"] == "reconfigure_successful"
    assert entry.subentries[yard].title == "Yard 2"
    assert entry.subentries[yard].data == {"zone": "zone.customer_a", "polygon": wkt}


async def test_asset_subentry_add_validate_and_reconfigure(hass: HomeAssistant) -> None:
    await setup_zones(hass)
    hass.states.async_set("device_tracker.van_7", "not_home", {"latitude": 52.5, "longitude": 13.4})
    hass.states.async_set("sensor.temperature", "21")
    entry = await add_register(hass)
    yard = await add_geofence(hass, entry, "Yard", "zone.depot", json.dumps(DEPOT_YARD))
    van = await add_asset(
        hass, entry, name="Van 7", source="device_tracker.van_7", geofences=[yard],
        every_km=15000, tag_id="nfc-van-7",
    )  # fmt: skip
    data = entry.subentries[van].data
    assert data["asset_tag"] == "VAN-0001"
    assert data["geofences"] == [yard]
    assert data["every_km"] == 15000
    assert data["every_hours"] is None
    drill = await add_asset(hass, entry, name="Drill", category="tool", parent=van)
    assert entry.subentries[drill].data["asset_tag"] == "VAN-0002"
    assert entry.subentries[drill].data["source"] is None

    async def refused(**data: Any) -> dict[str, Any]:
        data = {"name": "Trailer", "category": "trailer", "home_zone": "zone.depot"} | data
        result = await add_subentry(hass, entry, SUBENTRY_ASSET, data)
        assert result["type"] is FlowResultType.FORM
        return result

    assert (await refused(name=" "))["errors"] == {"name": "empty_name"}
    result = await refused(asset_tag="van 9")
    assert result["errors"] == {"asset_tag": "invalid_asset_tag"}
    assert result["description_placeholders"]["tag"] == "van 9"
    result = await refused(asset_tag="van-0001")
    assert result["errors"] == {"asset_tag": "asset_tag_taken"}
    assert result["description_placeholders"]["name"] == "Van 7"
    result = await refused(source="device_tracker.gone")
    assert result["errors"] == {"source": "source_not_found"}
    assert result["description_placeholders"]["entity"] == "device_tracker.gone"
    result = await refused(source="sensor.temperature")
    assert result["errors"] == {"source": "source_without_position"}
    result = await refused(allowed_from="07:00:00")
    assert result["errors"] == {"allowed_until": "allowed_hours_incomplete"}
    result = await refused(tag_id="nfc-van-7")
    assert result["errors"] == {"tag_id": "tag_id_taken"}
    assert result["description_placeholders"]["name"] == "Van 7"
    # a person with no position yet is a valid source; a tag given is kept
    hass.states.async_set("person.anna", "unknown")
    trailer = await add_asset(
        hass, entry, name="Trailer", source="person.anna", asset_tag="trl-1", tag_id="nfc-t",
        allowed_from="07:00:00", allowed_until="19:00:00",
    )  # fmt: skip
    assert entry.subentries[trailer].data["asset_tag"] == "trl-1"
    assert entry.subentries[trailer].data["source"] == "person.anna"

    # reconfigure: the van may not become the drill's child (a loop)
    result = check_flow(await reconfigure(hass, entry, SUBENTRY_ASSET, van), SUBENTRY_ASSET)
    assert result["step_id"] == "reconfigure"
    parent_field = next(v for k, v in result["data_schema"].schema.items() if str(k) == "parent")
    assert [o["value"] for o in parent_field.config["options"]] == [drill, trailer]
    current = {
        str(k): (k.description or {}).get("suggested_value") for k in result["data_schema"].schema
    }
    assert current["asset_tag"] == "VAN-0001"
    form = {"name": "Van 7", "category": "vehicle", "home_zone": "zone.depot"}
    result = check_flow(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], form | {"parent": drill}
        ),
        SUBENTRY_ASSET,
    )
    assert result["errors"] == {"parent": "parent_cycle"}
    result = check_flow(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], form | {"asset_tag": "VAN-0001", "every_days": 180}
        ),
        SUBENTRY_ASSET,
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.subentries[van].data["every_days"] == 180
    assert entry.subentries[van].data["source"] is None
    assert entry.state is config_entries.ConfigEntryState.LOADED


async def test_parent_loop_through_a_third_asset(hass: HomeAssistant) -> None:
    await setup_zones(hass)
    entry = await add_register(hass)
    van = await add_asset(hass, entry, name="Van")
    box = await add_asset(hass, entry, name="Box", parent=van)
    drill = await add_asset(hass, entry, name="Drill", parent=box)
    # another asset may hang below the drill (no loop through an unrelated chain)
    await add_asset(hass, entry, name="Bit", parent=drill)
    result = check_flow(await reconfigure(hass, entry, SUBENTRY_ASSET, van), SUBENTRY_ASSET)
    result = check_flow(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"],
            {"name": "Van", "category": "vehicle", "home_zone": "zone.depot", "parent": drill},
        ),
        SUBENTRY_ASSET,
    )
    assert result["errors"] == {"parent": "parent_cycle"}


async def test_subentry_types_of_the_register(hass: HomeAssistant) -> None:
    entry = await add_register(hass)
    assert set(ThingBridgeConfigFlow.async_get_supported_subentry_types(entry)) == {
        SUBENTRY_ASSET,
        SUBENTRY_GEOFENCE,
    }
