"""The asset register in a real Home Assistant: polygon zones, geofence events, custody, restarts."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
import json
from pathlib import Path
import shutil
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import persistent_notification
from homeassistant.components.tag.const import EVENT_TAG_SCANNED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.thingbridge.bridges.assets.runtime import EVENT_ASSET
from custom_components.thingbridge.const import DOMAIN
from tests.bridges.assets.support import (
    CUSTOMER_A,
    DEPOT_YARD,
    add_asset,
    add_geofence,
    add_register,
    setup_zones,
)
from tests.conftest import REPO, TRANSLATIONS

SOURCE = "device_tracker.gps_van"
TRACKER = "device_tracker.van_7"
YARD_POINT = (52.5210, 13.4050)  # inside the depot's circle and its yard polygon
LANE_POINT = (52.5185, 13.4050)  # inside the circle (167 m from its centre), outside the yard


def move(hass: HomeAssistant, point: tuple[float, float], **attributes: Any) -> None:
    hass.states.async_set(
        SOURCE,
        "not_home",
        {"latitude": point[0], "longitude": point[1], "gps_accuracy": 10, **attributes},
    )


@pytest.fixture
def asset_events(hass: HomeAssistant) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []

    @callback
    def record(event: Event[dict[str, Any]]) -> None:
        events.append(dict(event.data))

    hass.bus.async_listen(EVENT_ASSET, record)
    return events


async def _setup(hass: HomeAssistant) -> tuple[Any, str, str]:
    await setup_zones(hass)
    move(hass, YARD_POINT)
    entry = await add_register(hass)
    yard = await add_geofence(hass, entry, "Yard", "zone.depot", json.dumps(DEPOT_YARD))
    van = await add_asset(
        hass, entry, name="Van 7", source=SOURCE, geofences=[yard], tag_id="nfc-van-7"
    )
    await hass.async_block_till_done()
    return entry, yard, van


async def test_zones_follow_the_polygon_and_home_assistant_triggers_too(
    hass: HomeAssistant, asset_events: list[dict[str, Any]]
) -> None:
    entry, yard, _van = await _setup(hass)
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                {
                    "triggers": [
                        {"trigger": "zone", "entity_id": TRACKER, "zone": "zone.depot",
                         "event": event}
                    ],
                    "actions": [{"event": f"van_{event}_depot"}],
                }
                for event in ("enter", "leave")
            ]
        },
    )  # fmt: skip
    fired: list[str] = []
    on_fired = callback(lambda e: fired.append(e.event_type))  # in the loop, in order
    for name in ("van_enter_depot", "van_leave_depot"):
        hass.bus.async_listen(name, on_fired)
    state = hass.states.get(TRACKER)
    assert state is not None
    assert state.state == "Depot"
    assert state.attributes["in_zones"] == ["zone.depot"]
    assert hass.states.get("binary_sensor.van_7_outside_allowed_area").state == "off"

    # inside the depot's circle, outside its yard: not in the depot
    move(hass, LANE_POINT)
    await hass.async_block_till_done()
    state = hass.states.get(TRACKER)
    assert state.state == "not_home"
    assert state.attributes["in_zones"] == []
    assert state.attributes["latitude"] == LANE_POINT[0]
    assert fired == ["van_leave_depot"]
    assert hass.states.get("binary_sensor.van_7_outside_allowed_area").state == "on"
    # first seen in the yard (when the asset was added), then out of it
    assert [(e["type"], e["geofence_name"]) for e in asset_events] == [
        ("geofence_entered", "Yard"),
        ("geofence_left", "Yard"),
    ]
    event_state = hass.states.get("event.van_7_asset_event")
    assert event_state.attributes["event_type"] == "geofence_left"
    assert event_state.attributes["geofence"] == yard

    # a customer's zone has no polygon: Home Assistant's circle decides
    move(hass, (CUSTOMER_A[0] + 0.0005, CUSTOMER_A[1]))
    await hass.async_block_till_done()
    assert hass.states.get(TRACKER).state == "Customer A"
    assert hass.states.get(TRACKER).attributes["in_zones"] == ["zone.customer_a"]

    move(hass, YARD_POINT)
    await hass.async_block_till_done()
    assert hass.states.get(TRACKER).state == "Depot"
    assert fired == ["van_leave_depot", "van_enter_depot"]
    assert asset_events[-1]["type"] == "geofence_entered"
    distance = hass.states.get("sensor.van_7_distance_from_home")
    assert float(distance.state) == pytest.approx(0.111, abs=0.002)  # km, 111 m north
    assert hass.states.get("sensor.van_7_last_seen").state != "unknown"
    # the device tracker is a primary entity on the asset's own device
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"asset:{_van}"), entry.entry_id
    )
    assert device is not None
    assert device.name == "Van 7"
    assert device.serial_number == "VAN-0001"


async def test_custody_by_action_yaml_and_tag_with_translated_errors(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, asset_events: list[dict[str, Any]]
) -> None:
    _entry, _yard, van = await _setup(hass)
    hass.states.async_set("person.anna", "home", {"friendly_name": "Anna", "user_id": "user-a"})
    status = "sensor.van_7_status"
    assert hass.states.get(status).state == "available"

    async def call(service: str, **data: Any) -> None:
        await hass.services.async_call(DOMAIN, service, data, blocking=True)

    async def refused(service: str, key: str, **data: Any) -> dict[str, str]:
        with pytest.raises(ServiceValidationError) as caught:
            await call(service, **data)
        assert caught.value.translation_key == key
        text = TRANSLATIONS["exceptions"][key]["message"]
        placeholders = caught.value.translation_placeholders or {}
        assert all(f"{{{name}}}" in text for name in placeholders)
        return placeholders

    assert await refused("check_out", "unknown_asset", asset="VAN-9999", custodian="Bob") == {
        "asset": "VAN-9999"
    }
    assert await refused(
        "check_out", "unknown_custodian", asset="VAN-0001", custodian="person.nobody"
    ) == {"custodian": "person.nobody"}
    past = dt_util.now() - timedelta(hours=1)
    assert "expected_return" in await refused(
        "check_out", "expected_return_past", asset="van-0001", custodian="Bob",
        expected_return=past.isoformat(),
    )  # fmt: skip
    assert await refused("check_in", "not_checked_out", asset="VAN-0001") == {"asset": "Van 7"}

    # by action, to a person, due back in an hour; the asset named by its entity
    due = dt_util.now() + timedelta(hours=1)
    await call("check_out", asset=TRACKER, custodian="person.anna", expected_return=due.isoformat())
    assert hass.states.get(status).state == "checked_out"
    custodian = hass.states.get("sensor.van_7_custodian")
    assert custodian.state == "Anna"
    assert custodian.attributes["person"] == "person.anna"
    assert asset_events[-1]["type"] == "checked_out"
    assert await refused("check_out", "already_checked_out", asset="VAN-0001", custodian="Bob") == {
        "asset": "Van 7",
        "custodian": "Anna",
    }
    calendar = hass.states.get("calendar.asset_register_due_dates")
    assert calendar.attributes["message"] == "Van 7 (VAN-0001) due back"
    assert hass.states.get("binary_sensor.van_7_checked_out_past_due").state == "off"

    # two hours later, without any new position: overdue, and a reminder
    freezer.tick(timedelta(hours=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.van_7_checked_out_past_due").state == "on"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"asset_overdue_{van}")
    assert issue is not None
    assert issue.translation_placeholders["custodian"] == "Anna"

    # from YAML: an automation checks it in
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "triggers": [{"trigger": "event", "event_type": "van_returned"}],
                "actions": [{"action": "thingbridge.check_in", "data": {"asset": "VAN-0001"}}],
            }
        },
    )
    hass.bus.async_fire("van_returned")
    await hass.async_block_till_done()
    assert hass.states.get(status).state == "available"
    assert hass.states.get("binary_sensor.van_7_checked_out_past_due").state == "off"
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"asset_overdue_{van}") is None

    # by a scanned tag: the phone's user is Anna
    phone_entry = MockConfigEntry(domain="mobile_app", data={"user_id": "user-a"})
    phone_entry.add_to_hass(hass)
    phone = dr.async_get(hass).async_get_or_create(
        config_entry_id=phone_entry.entry_id, identifiers={("mobile_app", "anna-phone")},
        name="Anna's phone",
    )  # fmt: skip
    hass.bus.async_fire(EVENT_TAG_SCANNED, {"tag_id": "nfc-van-7", "device_id": phone.id})
    await hass.async_block_till_done()
    assert hass.states.get(status).state == "checked_out"
    assert hass.states.get("sensor.van_7_custodian").state == "Anna"
    assert asset_events[-1]["via"] == "tag"
    hass.bus.async_fire(EVENT_TAG_SCANNED, {"tag_id": "nfc-van-7", "device_id": phone.id})
    await hass.async_block_till_done()
    assert hass.states.get(status).state == "available"
    # an unknown tag changes nothing
    hass.bus.async_fire(EVENT_TAG_SCANNED, {"tag_id": "other", "device_id": phone.id})
    await hass.async_block_till_done()
    assert hass.states.get(status).state == "available"
    # a scan from a device without a person: the device's name is the custodian
    kiosk = dr.async_get(hass).async_get_or_create(
        config_entry_id=phone_entry.entry_id, identifiers={("mobile_app", "kiosk")},
        name="Workshop kiosk",
    )  # fmt: skip
    hass.config_entries.async_update_entry(phone_entry, data={})
    hass.bus.async_fire(EVENT_TAG_SCANNED, {"tag_id": "nfc-van-7", "device_id": kiosk.id})
    await hass.async_block_till_done()
    assert hass.states.get("sensor.van_7_custodian").state == "Workshop kiosk"


async def test_custody_and_position_survive_a_restart(hass: HomeAssistant) -> None:
    entry, _yard, van = await _setup(hass)
    due = dt_util.now() + timedelta(days=1)
    await hass.services.async_call(
        DOMAIN,
        "check_out",
        {"asset": "VAN-0001", "custodian": "Bob", "expected_return": due.isoformat()},
        blocking=True,
    )
    move(hass, LANE_POINT)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    hass.states.async_remove(SOURCE)  # the source has not reported since the restart
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.van_7_status").state == "checked_out"
    custodian = hass.states.get("sensor.van_7_custodian")
    assert custodian.state == "Bob"
    assert dt_util.parse_datetime(custodian.attributes["expected_return"]) == dt_util.as_utc(due)
    tracker = hass.states.get(TRACKER)
    assert tracker.attributes["latitude"] == LANE_POINT[0]
    assert tracker.state == "not_home"
    assert entry.runtime_data.assets[van].inside == frozenset()


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of the test's own (the blueprint is copied there)."""
    return hass_tmp_config_dir


async def use_blueprint(hass: HomeAssistant, name: str, sensor: str) -> None:
    """Install a shipped blueprint in the configuration directory and automate with it."""
    source = REPO / "blueprints" / "automation" / "thingbridge" / name
    target = Path(hass.config.path("blueprints", "automation", "thingbridge"))
    await hass.async_add_executor_job(partial(target.mkdir, parents=True, exist_ok=True))
    await hass.async_add_executor_job(shutil.copy, source, target)
    assert await async_setup_component(hass, "persistent_notification", {})
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": f"thingbridge/{name}",
                    "input": {
                        "problem_sensor": sensor,
                        "notify_action": "persistent_notification.create",
                    },
                }
            }
        },
    )


def notifications(hass: HomeAssistant) -> list[str]:
    found = persistent_notification._async_get_or_create_notifications(hass)
    return [n["message"] for n in found.values()]


async def test_overdue_blueprint_notifies_with_the_custodian(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The shipped blueprint, run for real: overdue without any new position."""
    await _setup(hass)
    await use_blueprint(
        hass, "checked_out_asset_overdue.yaml", "binary_sensor.van_7_checked_out_past_due"
    )
    due = dt_util.now() + timedelta(minutes=30)
    await hass.services.async_call(
        DOMAIN,
        "check_out",
        {"asset": "VAN-0001", "custodian": "Bob", "expected_return": due.isoformat()},
        blocking=True,
    )
    freezer.tick(timedelta(hours=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert notifications(hass) == ["Van 7 is overdue (custodian: Bob)."]


async def test_maintenance_blueprint_names_the_plan(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    await setup_zones(hass)
    move(hass, YARD_POINT)
    entry = await add_register(hass)
    await add_asset(hass, entry, name="Van 7", source=SOURCE, plan_name="MOT", every_days=1)
    await use_blueprint(hass, "asset_maintenance_due.yaml", "binary_sensor.van_7_maintenance_due")
    freezer.tick(timedelta(days=1, minutes=1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert notifications(hass) == ["Van 7 is due for maintenance (MOT)."]


async def test_a_child_follows_its_parent_and_one_moving_alone_is_reported(
    hass: HomeAssistant,
) -> None:
    entry, _yard, van = await _setup(hass)
    hass.states.async_set(
        "device_tracker.gps_trailer", "not_home", {"latitude": 52.5212, "longitude": 13.4052}
    )
    await add_asset(hass, entry, name="Drill", category="tool", parent=van)
    await add_asset(
        hass, entry, name="Trailer", category="trailer", parent=van,
        source="device_tracker.gps_trailer",
    )  # fmt: skip
    await hass.async_block_till_done()
    drill = hass.states.get("device_tracker.drill")
    assert (drill.attributes["latitude"], drill.attributes["longitude"]) == YARD_POINT
    assert drill.state == "Depot"
    move(hass, (CUSTOMER_A[0], CUSTOMER_A[1]))
    await hass.async_block_till_done()
    assert hass.states.get("device_tracker.drill").state == "Customer A"
    alone = "binary_sensor.trailer_moving_without_its_parent"
    assert hass.states.get(alone).state == "off"
    # the trailer drives off on its own (the van is 1.5 km away)
    hass.states.async_set(
        "device_tracker.gps_trailer",
        "not_home",
        {"latitude": 52.5230, "longitude": 13.4100, "speed": 30},
    )
    await hass.async_block_till_done()
    assert hass.states.get(alone).state == "on"
    assert hass.states.get("binary_sensor.drill_moving_without_its_parent").state == "off"


async def test_maintenance_comes_due_by_the_clock_and_is_recorded(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, asset_events: list[dict[str, Any]]
) -> None:
    """A day-based plan comes due without any new position; the to-do list and the action
    record it; the log survives a restart."""
    freezer.move_to(dt_util.utcnow().replace(microsecond=0))  # timestamps show whole seconds
    await setup_zones(hass)
    move(hass, YARD_POINT)
    entry = await add_register(hass)
    van = await add_asset(
        hass, entry, name="Van 7", source=SOURCE, plan_name="Service", every_days=1,
        every_km=100,
    )  # fmt: skip
    due_sensor = "binary_sensor.van_7_maintenance_due"
    todo = "todo.asset_register_maintenance"
    assert hass.states.get(due_sensor).state == "off"
    assert hass.states.get(todo).state == "0"
    next_due = hass.states.get("sensor.van_7_next_maintenance")
    assert dt_util.parse_datetime(next_due.state) == dt_util.utcnow() + timedelta(days=1)
    assert next_due.attributes["measure"] == "days"

    freezer.tick(timedelta(hours=23))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(due_sensor).state == "off"
    assert hass.states.get(todo).state == "1"  # soon: on the list already
    freezer.tick(timedelta(hours=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get(due_sensor).state == "on"
    events = await hass.services.async_call(
        "calendar", "get_events",
        {"entity_id": "calendar.asset_register_due_dates", "duration": {"days": 2},
         "start_date_time": dt_util.now() - timedelta(days=1)},
        blocking=True, return_response=True,
    )  # fmt: skip
    summaries = [e["summary"] for e in events["calendar.asset_register_due_dates"]["events"]]
    assert summaries == ["Van 7 (VAN-0001): Service due"]

    async def refused(key: str, **data: Any) -> dict[str, str]:
        with pytest.raises(ServiceValidationError) as caught:
            await hass.services.async_call(DOMAIN, "record_maintenance", data, blocking=True)
        assert caught.value.translation_key == key
        assert key in TRANSLATIONS["exceptions"]
        return caught.value.translation_placeholders or {}

    assert (await refused("unknown_asset", asset="TRL-1"))["asset"] == "TRL-1"
    assert await refused("unknown_plan", asset="VAN-0001", plan="Brakes") == {
        "asset": "Van 7",
        "plan": "Brakes",
        "plans": "Service",
    }
    tomorrow = (dt_util.now() + timedelta(days=1)).isoformat()
    assert "date" in await refused("maintenance_in_future", asset="VAN-0001", date=tomorrow)

    # checking the item off records it
    items = await hass.services.async_call(
        "todo", "get_items", {"entity_id": todo}, blocking=True, return_response=True
    )
    (item,) = items[todo]["items"]
    assert item["summary"] == "Van 7 (VAN-0001): Service"
    await hass.services.async_call(
        "todo", "update_item", {"entity_id": todo, "item": item["uid"], "rename": "Later"},
        blocking=True,
    )  # fmt: skip
    assert len(entry.runtime_data.assets[van].plan.log) == 0  # only checking off records
    await hass.services.async_call(
        "todo", "update_item", {"entity_id": todo, "item": item["uid"], "status": "completed"},
        blocking=True,
    )  # fmt: skip
    await hass.async_block_till_done()
    assert hass.states.get(due_sensor).state == "off"
    assert hass.states.get(todo).state == "0"
    assert asset_events[-1]["type"] == "maintenance_done"
    assert asset_events[-1]["via"] == "todo"

    # and by the action, with cost and note
    freezer.tick(timedelta(hours=1))
    await hass.services.async_call(
        DOMAIN, "record_maintenance",
        {"asset": "VAN-0001", "plan": "service", "cost": 249.9, "note": "Oil", "odometer": 12},
        blocking=True,
    )  # fmt: skip
    plan = entry.runtime_data.assets[van].plan
    assert [(c.cost, c.note, c.readings.odometer_m) for c in plan.log] == [
        (None, "", 0.0),
        (249.9, "Oil", 12000.0),
    ]
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert len(entry.runtime_data.assets[van].plan.log) == 2
    attributes = hass.states.get("sensor.van_7_next_maintenance").attributes
    assert attributes["plan"] == "Service"
    assert attributes["status"] == "ok"
    assert dt_util.parse_datetime(attributes["last_done"]) == dt_util.utcnow()


async def test_more_refusals_name_what_is_wrong(hass: HomeAssistant) -> None:
    async def refused(service: str, key: str, **data: Any) -> dict[str, str]:
        with pytest.raises(ServiceValidationError) as caught:
            await hass.services.async_call(DOMAIN, service, data, blocking=True)
        assert caught.value.translation_key == key
        assert key in TRANSLATIONS["exceptions"]
        return caught.value.translation_placeholders or {}

    assert await async_setup_component(hass, DOMAIN, {})
    # no register yet
    assert await refused("check_in", "no_asset_register", asset="VAN-0001") == {}
    await setup_zones(hass)
    move(hass, YARD_POINT)
    entry = await add_register(hass)
    await add_asset(hass, entry, name="Van 7", source=SOURCE, every_days=30)
    assert await refused("check_out", "unknown_custodian", asset="VAN-0001", custodian="  ")
    # a time without a zone is local time
    await hass.services.async_call(
        DOMAIN, "check_out",
        {"asset": "VAN-0001", "custodian": "Bob", "expected_return": "2099-01-01 08:00:00"},
        blocking=True,
    )  # fmt: skip
    expected = hass.states.get("sensor.van_7_custodian").attributes["expected_return"]
    assert dt_util.parse_datetime(expected) == dt_util.as_utc(
        dt_util.parse_datetime("2099-01-01 08:00:00").replace(
            tzinfo=dt_util.get_default_time_zone()
        )
    )
    # a maintenance dated before the plan began
    placeholders = await refused(
        "record_maintenance", "maintenance_before_plan", asset="VAN-0001",
        date=(dt_util.now() - timedelta(days=3)).isoformat(),
    )  # fmt: skip
    assert placeholders["asset"] == "Van 7"
    assert dt_util.parse_datetime(placeholders["baseline"]) > dt_util.parse_datetime(
        placeholders["date"]
    )
    # without the recorder there are no raw fixes to recompute trips from
    day = {"start": (dt_util.now() - timedelta(days=1)).isoformat(), "end": dt_util.now()}
    assert await refused("recompute_trips", "no_history", asset="VAN-0001", **day) == {
        "asset": "Van 7"
    }


async def test_maintenance_and_retirement_statuses(hass: HomeAssistant) -> None:
    await _setup(hass)
    status = "sensor.van_7_status"

    async def call(service: str, **data: Any) -> None:
        await hass.services.async_call(DOMAIN, service, data, blocking=True)

    await call("set_asset_status", asset="VAN-0001", status="in_maintenance")
    assert hass.states.get(status).state == "in_maintenance"
    await call("set_asset_status", asset="VAN-0001", status="in_maintenance")  # no change
    with pytest.raises(ServiceValidationError) as caught:
        await call("check_out", asset="VAN-0001", custodian="Bob")
    assert caught.value.translation_key == "cannot_check_out_in_maintenance"
    hass.bus.async_fire(EVENT_TAG_SCANNED, {"tag_id": "nfc-van-7"})
    await hass.async_block_till_done()
    assert hass.states.get(status).state == "in_maintenance"  # a scan changes nothing
    await call("set_asset_status", asset="VAN-0001", status="available")
    await call("check_out", asset="VAN-0001", custodian="Bob")
    with pytest.raises(ServiceValidationError) as caught:
        await call("set_asset_status", asset="VAN-0001", status="available")
    assert caught.value.translation_key == "status_change_refused"
    assert caught.value.translation_placeholders == {
        "asset": "Van 7", "status": "checked_out", "new_status": "available",
    }  # fmt: skip
    await call("set_asset_status", asset="VAN-0001", status="retired")  # ends the check-out
    assert hass.states.get(status).state == "retired"
    assert hass.states.get("sensor.van_7_custodian").state == "unknown"
    with pytest.raises(ServiceValidationError) as caught:
        await call("check_out", asset="VAN-0001", custodian="Bob")
    assert caught.value.translation_key == "cannot_check_out_retired"
    await call("set_asset_status", asset="VAN-0001", status="available")
    assert hass.states.get(status).state == "available"
