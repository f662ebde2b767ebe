"""The register's lifecycle and edges: siblings found through the registries, hostile or
damaged input, allowed hours, diagnostics, device removal, deleting the register."""

from __future__ import annotations

from datetime import timedelta
import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.storage import Store
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)

from custom_components.thingbridge.const import ASSET_STORE_KEY, DOMAIN
from tests.bridges.assets.support import (
    DEPOT_YARD,
    add_asset,
    add_geofence,
    add_register,
    setup_zones,
)

SOURCE = "device_tracker.other_integration"
TRACKER = "device_tracker.generator"
YARD = (52.5210, 13.4050)
LANE = (52.5185, 13.4050)


def _device_with_siblings(hass: HomeAssistant) -> None:
    """Another integration's tracker with speed (mph), ignition and odometer (km) sensors."""
    other = MockConfigEntry(domain="other")
    other.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=other.entry_id, identifiers={("other", "truck")}, name="Truck box"
    )
    registry = er.async_get(hass)
    for domain, key, device_class, extra in (
        ("device_tracker", "location", None, {}),
        ("sensor", "speed", "speed", {}),
        ("binary_sensor", "ignition", None, {"translation_key": "ignition"}),
        ("sensor", "mileage", "distance", {"capabilities": {"state_class": "total_increasing"}}),
        ("sensor", "temperature", "temperature", {}),
    ):
        registry.async_get_or_create(
            domain, "other", f"truck_{key}", config_entry=other, device_id=device.id,
            original_device_class=device_class, suggested_object_id=f"other_{key}", **extra,
        )  # fmt: skip
    assert registry.async_get("device_tracker.other_location") is not None


def _fix(
    hass: HomeAssistant, point: tuple[float, float], mph: float, ignition: str, km: float
) -> None:
    hass.states.async_set("sensor.other_speed", str(mph), {"unit_of_measurement": "mph"})
    hass.states.async_set("binary_sensor.other_ignition", ignition)
    hass.states.async_set("sensor.other_mileage", str(km), {"unit_of_measurement": "km"})
    hass.states.async_set(
        "device_tracker.other_location", "not_home",
        {"latitude": point[0], "longitude": point[1], "gps_accuracy": 5},
    )  # fmt: skip


async def test_siblings_are_found_through_the_registries(hass: HomeAssistant) -> None:
    await setup_zones(hass)
    _device_with_siblings(hass)
    _fix(hass, YARD, 0, "off", 1000.0)
    entry = await add_register(hass)
    van = await add_asset(hass, entry, name="Truck", source="device_tracker.other_location")
    asset = entry.runtime_data.assets[van]
    assert asset.position is not None
    assert asset.position.ignition is False
    assert asset.position.odometer_m == pytest.approx(1_000_000)
    _fix(hass, LANE, 10, "on", 1000.3)
    await hass.async_block_till_done()
    assert asset.position.speed_kmh == pytest.approx(16.09, abs=0.01)
    assert asset.position.ignition is True
    assert float(hass.states.get("sensor.truck_odometer").state) == pytest.approx(1000.3)
    # hostile values are not positions; the asset stays where it was
    for attributes in (
        {"latitude": 95, "longitude": 13},
        {"latitude": "nan", "longitude": 13},
        {"latitude": 52.5},
        {"latitude": [1], "longitude": {}},
    ):
        hass.states.async_set("device_tracker.other_location", "x", attributes)
        await hass.async_block_till_done()
        assert (asset.position.latitude, asset.position.longitude) == LANE


async def test_allowed_hours_and_not_seen(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """Inside the allowed hours the geofences count; outside them only the home zone."""
    freezer.move_to(dt_util.start_of_local_day() + timedelta(hours=12))
    await setup_zones(hass)
    hass.states.async_set(SOURCE, "not_home", {"latitude": LANE[0], "longitude": LANE[1]})
    entry = await add_register(hass, not_seen_hours=2)
    yard = await add_geofence(hass, entry, "Yard", "zone.depot", json.dumps(DEPOT_YARD))
    await add_asset(
        hass, entry, name="Generator", category="machine", source=SOURCE, geofences=[yard],
        allowed_from="08:00:00", allowed_until="18:00:00",
    )  # fmt: skip
    outside = "binary_sensor.generator_outside_allowed_area"
    not_seen = "binary_sensor.generator_not_seen"
    assert hass.states.get(outside).state == "on"  # noon, in the lane: not in the yard
    assert hass.states.get(not_seen).state == "off"
    hass.states.async_set(SOURCE, "not_home", {"latitude": YARD[0], "longitude": YARD[1]})
    await hass.async_block_till_done()
    assert hass.states.get(outside).state == "off"
    # at 20:00 only the home zone (the depot's yard) is allowed: still in it
    written: list[Any] = []
    hass.bus.async_listen(
        "state_changed",
        callback(
            lambda event: written.append(event) if event.data["entity_id"] == TRACKER else None
        ),
    )
    freezer.move_to(dt_util.start_of_local_day() + timedelta(hours=20))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert written == []  # the scheduler's minute writes no tracker state that did not change
    assert hass.states.get(outside).state == "off"
    assert hass.states.get(not_seen).state == "on"  # 8 h silent, 2 h allowed


async def test_damaged_storage_is_ignored_not_fatal(hass: HomeAssistant) -> None:
    await setup_zones(hass)
    hass.states.async_set(SOURCE, "not_home", {"latitude": YARD[0], "longitude": YARD[1]})
    entry = await add_register(hass)
    van = await add_asset(hass, entry, name="Van", source=SOURCE)
    assert await hass.config_entries.async_unload(entry.entry_id)
    store: Store[dict[str, Any]] = Store(hass, 1, ASSET_STORE_KEY)
    await store.async_save(
        {"assets": {van: {"custody": {"status": "checked_out", "checkout": None}}}}
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.van_status").state == "available"


async def test_diagnostics_devices_and_deleting_the_register(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    hass_ws_client: WebSocketGenerator,
) -> None:
    for component in ("config", "diagnostics"):
        assert await async_setup_component(hass, component, {})
    await setup_zones(hass)
    hass.states.async_set(SOURCE, "not_home", {"latitude": YARD[0], "longitude": YARD[1]})
    entry = await add_register(hass)
    yard = await add_geofence(hass, entry, "Yard", "zone.depot", json.dumps(DEPOT_YARD))
    van = await add_asset(hass, entry, name="Van", source=SOURCE, geofences=[yard], every_days=7)
    client = await hass_ws_client(hass)  # every web view is registered by now
    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diagnostics["geofences"][yard] == {"name": "Yard", "zone": "zone.depot", "vertices": 4}
    assert diagnostics["assets"][van]["in_zones"] == ["zone.depot"]
    assert diagnostics["assets"][van]["plan"]["every_days"] == 7
    assert "usage" not in diagnostics["assets"][van]
    devices = dr.async_get(hass)
    device = devices.async_get_device_by_identifier((DOMAIN, f"asset:{van}"), entry.entry_id)
    register = devices.async_get_device_by_identifier((DOMAIN, "asset:register"), entry.entry_id)
    assert device is not None
    assert register is not None
    assert (await get_diagnostics_for_device(hass, hass_client, entry, device))["tag"] == "VAN-0001"

    # the asset's device and the register's own go with the entry, not by hand
    async def remove(device_id: str) -> bool:
        await client.send_json_auto_id(
            {"type": "config/device_registry/remove_config_entry",
             "config_entry_id": entry.entry_id, "device_id": device_id}
        )  # fmt: skip
        return bool((await client.receive_json())["success"])

    assert not await remove(device.id)
    assert not await remove(register.id)
    leftover = devices.async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, "asset:gone")}
    )
    assert (await get_diagnostics_for_device(hass, hass_client, entry, leftover)) == {}
    assert await remove(leftover.id)
    # deleting the register deletes what it saved
    await hass.services.async_call(
        DOMAIN, "check_out", {"asset": "VAN-0001", "custodian": "Bob"}, blocking=True
    )
    assert await hass.config_entries.async_remove(entry.entry_id) == {"require_restart": False}
    await hass.async_block_till_done()
    assert await Store(hass, 1, ASSET_STORE_KEY).async_load() is None


async def test_plans_and_geofences_follow_their_subentries(hass: HomeAssistant) -> None:
    """A plan's intervals change with the subentry (its log stays); a plan that needs
    readings an asset cannot have is not kept; a stored polygon that no longer parses is
    left out with a warning, not fatal."""
    await setup_zones(hass)
    hass.states.async_set(SOURCE, "not_home", {"latitude": YARD[0], "longitude": YARD[1]})
    entry = await add_register(hass)
    yard = await add_geofence(hass, entry, "Yard", "zone.depot", json.dumps(DEPOT_YARD))
    van = await add_asset(hass, entry, name="Van", source=SOURCE, every_days=30)
    box = await add_asset(hass, entry, name="Box", category="tool", parent=van, every_hours=50)
    assets = entry.runtime_data.assets
    assert assets[van].plan is not None
    assert assets[box].plan is None  # no source of its own: no engine hours to count
    baseline = assets[van].plan.baseline_at
    hass.config_entries.async_update_subentry(
        entry, entry.subentries[van], data={**entry.subentries[van].data, "every_days": 60.0}
    )
    await hass.async_block_till_done()
    plan = entry.runtime_data.assets[van].plan
    assert (plan.every_days, plan.baseline_at) == (60.0, baseline)
    hass.config_entries.async_update_subentry(
        entry, entry.subentries[yard], data={"zone": "zone.depot", "polygon": "POLYGON(("}
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.geofences == {}
    # the depot's circle counts again
    assert hass.states.get("device_tracker.van").attributes["in_zones"] == ["zone.depot"]


async def test_fix_times_units_and_scans(hass: HomeAssistant) -> None:
    await setup_zones(hass)
    _device_with_siblings(hass)
    _fix(hass, YARD, 0, "off", 1000.0)
    entry = await add_register(hass)
    van = await add_asset(
        hass, entry, name="Truck", source="device_tracker.other_location", tag_id="nfc-1"
    )
    asset = entry.runtime_data.assets[van]
    when = dt_util.utcnow() + timedelta(seconds=30)
    hass.states.async_set("sensor.other_mileage", "12", {"unit_of_measurement": "furlong"})
    hass.states.async_set(
        "device_tracker.other_location", "x",
        {"latitude": LANE[0], "longitude": LANE[1], "fix_time": when},
    )  # fmt: skip
    await hass.async_block_till_done()
    assert asset.position.time == when  # a datetime attribute is a fix time too
    assert asset.position.odometer_m is None  # a unit that is not a distance
    hass.states.async_set(
        "device_tracker.other_location", "x",
        {"latitude": YARD[0], "longitude": YARD[1], "fix_time": "not a time"},
    )  # fmt: skip
    await hass.async_block_till_done()
    # no usable fix time: the state's own, older than the fix shown: a late fix, not shown
    assert (asset.position.latitude, asset.position.longitude) == LANE
    # a scan by a user with no person and no device, then one by another integration's device
    hass.bus.async_fire("tag_scanned", {"tag_id": "nfc-1", "device_id": None})
    await hass.async_block_till_done()
    assert hass.states.get("sensor.truck_custodian").state == "?"
    hass.bus.async_fire("tag_scanned", {"tag_id": "nfc-1"})
    await hass.async_block_till_done()
    assert hass.states.get("sensor.truck_status").state == "available"
    device = dr.async_get(hass).async_get_device_by_identifier(
        ("other", "truck"), next(iter(hass.config_entries.async_entries("other"))).entry_id
    )
    hass.bus.async_fire("tag_scanned", {"tag_id": "nfc-1", "device_id": device.id})
    await hass.async_block_till_done()
    assert hass.states.get("sensor.truck_custodian").state == "Truck box"


async def test_allowed_hours_across_midnight(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    freezer.move_to(dt_util.start_of_local_day() + timedelta(hours=23))
    await setup_zones(hass)
    hass.states.async_set(SOURCE, "not_home", {"latitude": LANE[0], "longitude": LANE[1]})
    entry = await add_register(hass)
    yard = await add_geofence(hass, entry, "Yard", "zone.depot", json.dumps(DEPOT_YARD))
    await add_asset(
        hass, entry, name="Sweeper", category="machine", source=SOURCE, geofences=[yard],
        allowed_from="22:00:00", allowed_until="06:00:00",
    )  # fmt: skip
    outside = "binary_sensor.sweeper_outside_allowed_area"
    assert hass.states.get(outside).state == "on"  # 23:00: the night shift, out of the yard
    freezer.move_to(dt_util.start_of_local_day() + timedelta(days=1, hours=12))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    # noon: only its home zone (the depot, by its polygon) is allowed; the lane is not in it
    assert hass.states.get(outside).state == "on"
