"""The GPS tracker gateway inside a real Home Assistant, with simulated trackers on real sockets.

Every protocol's simulated device (simulator/trackers.py, which checks every reply byte for
byte) drives a lap to the gateway that the entry runs on 127.0.0.1; the device trackers
follow the lap and the sensors show the values in Home Assistant's units.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
import json
from pathlib import Path
import socket
import sqlite3
import sys
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, STATE_OFF, STATE_ON, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.thingbridge.bridges.trackers import runtime as tracker_runtime
from custom_components.thingbridge.bridges.trackers.runtime import journal_path
from custom_components.thingbridge.const import (
    DOMAIN,
    KIND_TRACKER_GATEWAY,
    KIND_WOT_DIRECTORY,
    KIND_WOT_THING,
    SUBENTRY_TRACKER,
    TRACKER_STORE_KEY,
)
from custom_components.thingbridge.device_trigger import async_get_triggers
from custom_components.thingbridge.diagnostics import (
    async_get_config_entry_diagnostics,
    async_get_device_diagnostics,
)
from custom_components.thingbridge.kinds import device_identifier
from custom_components.thingbridge.m2m.journal import TrackerJournal
from custom_components.thingbridge.m2m.trackers import Heartbeat, Position
from custom_components.thingbridge.sensor import TRACKER_SENSORS
from simulator.trackers import circle_route, make_fixes, teltonika_avl, teltonika_login
from tests.conftest import REPO, TRANSLATIONS
from tests.tracker_support import (
    HOST,
    IDS,
    StateRecorder,
    entity_id,
    gateway_entry,
    setup_gateway,
    start_time,
    state_of,
    virtual_tracker,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

# 8 points 300 m from the centre: chords of ~230 m, 20 s apart: ~41 km/h.
ROUTE = circle_route((54.6872, 25.2797), 300.0, 8)
INTERVAL = 20.0
# Coordinate resolution of the wire formats (ddmm.mmmm text: 1e-4 minute ≈ 1.7e-6°).
COORD_TOLERANCE = 2e-6
# Speed resolution on the wire: whole km/h (Teltonika, GT06), 0.1 km/h (TK103), knots or
# m/s with two decimals (H02, Coban, OsmAnd query) or floats (OsmAnd JSON).
SPEED_TOLERANCE = {"teltonika": 0.51, "gt06": 0.51, "tk103": 0.06}
OSMAND_JSON_ID = "traccar-phone-9"
H02_UDP_ID = "4210051416"


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of the test's own: the journal is written there."""
    return hass_tmp_config_dir


def all_trackers() -> list[tuple[str, str, str]]:
    trackers = [(p, d, f"{p} tracker") for p, d in IDS.items()]
    trackers += [("osmand", OSMAND_JSON_ID, "phone json"), ("h02", H02_UDP_ID, "h02 udp")]
    return trackers


def location(state: Any) -> tuple[float, float]:
    return (state.attributes["latitude"], state.attributes["longitude"])


async def test_every_protocol_follows_the_route_in_home_assistant_units(
    hass: HomeAssistant,
) -> None:
    runtime = await setup_gateway(hass, gateway_entry(all_trackers()))
    assert all(port > 0 for port in runtime.gateway.ports.values())
    recorder = StateRecorder(hass)
    start = start_time()
    devices = [(p, IDS[p], {}) for p in IDS]
    devices += [
        ("osmand", OSMAND_JSON_ID, {"osmand_format": "json"}),
        ("h02", H02_UDP_ID, {"transport": "udp"}),
    ]
    trackers = [
        virtual_tracker(runtime, protocol, ROUTE, device_id=device_id, start=start, **options)
        for protocol, device_id, options in devices
    ]
    await asyncio.gather(*(t.run(give_up_after=20) for t in trackers))
    await hass.async_block_till_done()
    expected = make_fixes(ROUTE, start=start, interval=INTERVAL)
    chord_kmh = expected[0].speed_kmh
    assert 35 < chord_kmh < 50

    for (protocol, device_id, _), tracker in zip(devices, trackers, strict=True):
        assert len(tracker.acked) == len(ROUTE), protocol
        where = entity_id(hass, "device_tracker", protocol, device_id, "location")
        # every fix was shown, in route order, and the tracker stays at the last one
        path = [location(s) for s in recorder.of(where)]
        assert len(path) == len(ROUTE), (protocol, path)
        for (lat, lon), fix in zip(path, expected, strict=True):
            assert lat == pytest.approx(fix.latitude, abs=COORD_TOLERANCE), (
                protocol,
                path,
                tracker.outcomes,
                tracker.replies,
            )
            assert lon == pytest.approx(fix.longitude, abs=COORD_TOLERANCE), protocol
        final = state_of(hass, where)
        assert final.attributes["source_type"] == "gps"
        assert final.attributes["gps_accuracy"] > 0
        # speed in km/h, whatever the wire said (km/h, knots or m/s)
        speed_entity = entity_id(hass, "sensor", protocol, device_id, "speed")
        assert state_of(hass, speed_entity).attributes["unit_of_measurement"] == "km/h"
        speeds = [float(s.state) for s in recorder.of(speed_entity)]
        assert speeds[0] == pytest.approx(chord_kmh, abs=SPEED_TOLERANCE.get(protocol, 0.02)), (
            protocol,
            speeds,
        )
        assert float(state_of(hass, speed_entity).state) == 0  # the last fix stands still
        # last fix time is the device's timestamp of the last point
        last_fix = state_of(hass, entity_id(hass, "sensor", protocol, device_id, "last_fix"))
        assert dt_util.parse_datetime(last_fix.state) == expected[-1].time
        # odometer: the lap's length (device-reported for Teltonika and TK103, else computed)
        odometer = state_of(hass, entity_id(hass, "sensor", protocol, device_id, "odometer"))
        assert odometer.attributes["unit_of_measurement"] == "km"
        assert float(odometer.state) == pytest.approx(expected[-1].odometer_m / 1000, abs=0.002)
        online = state_of(hass, entity_id(hass, "binary_sensor", protocol, device_id, "online"))
        assert online.state == STATE_ON
    recorder.stop()

    # protocol-specific values
    teltonika = IDS["teltonika"]
    assert (
        state_of(hass, entity_id(hass, "binary_sensor", "teltonika", teltonika, "ignition")).state
        == STATE_ON
    )
    assert (
        state_of(hass, entity_id(hass, "binary_sensor", "teltonika", teltonika, "motion")).state
        == STATE_OFF
    )
    voltage = state_of(hass, entity_id(hass, "sensor", "teltonika", teltonika, "external_voltage"))
    assert (float(voltage.state), voltage.attributes["unit_of_measurement"]) == (12.8, "V")
    assert (
        state_of(hass, entity_id(hass, "sensor", "teltonika", teltonika, "gsm_signal")).state == "4"
    )
    # ignition on for the whole lap and no device counter: 7 intervals of 20 s, in hours
    hours = state_of(hass, entity_id(hass, "sensor", "teltonika", teltonika, "engine_hours"))
    assert hours.attributes["unit_of_measurement"] == "h"
    assert float(hours.state) == pytest.approx(7 * INTERVAL / 3600, abs=1e-3)
    for device_id in (IDS["osmand"], OSMAND_JSON_ID):  # batt=87 and battery.level=0.87
        battery = state_of(hass, entity_id(hass, "sensor", "osmand", device_id, "battery"))
        assert float(battery.state) == pytest.approx(87)
    # values a protocol does not carry have no entity
    registry = er.async_get(hass)
    assert (
        registry.async_get_entity_id("sensor", DOMAIN, f"tracker_osmand_{IDS['osmand']}_gsm_signal")
        is None
    )
    assert (
        registry.async_get_entity_id("sensor", DOMAIN, f"tracker_h02_{IDS['h02']}_satellites")
        is None
    )

    # every entity has a translated name and belongs to its tracker's subentry
    entry = runtime.entry
    names = TRACKER_NAMES
    for reg in er.async_entries_for_config_entry(registry, entry.entry_id):
        assert reg.config_subentry_id in entry.subentries
        if reg.domain != "device_tracker":
            assert (
                reg.translation_key in names[reg.domain] or reg.original_device_class == "battery"
            )


TRACKER_NAMES: dict[str, Any] = TRANSLATIONS["entity"]


async def test_simulated_trackers_report_their_battery_and_no_fix_from_the_future(
    hass: HomeAssistant,
) -> None:
    """What ``python -m simulator trackers`` shows: the simulated devices run with their default
    clock (no ``start``), report their battery the way their protocol does (Teltonika IO 113
    and IO 67, the GT06 0x13 voltage level, the TK103 ZC20 report, the H02 HTBT heartbeat),
    and their last fix is not dated ahead of Home Assistant's clock."""
    protocols = ("teltonika", "gt06", "tk103", "h02")
    runtime = await setup_gateway(
        hass, gateway_entry([(p, IDS[p], f"{p} tracker") for p in protocols])
    )
    trackers = [virtual_tracker(runtime, p, ROUTE[:3]) for p in protocols]
    await asyncio.gather(*(t.run(give_up_after=20) for t in trackers))
    await hass.async_block_till_done()
    now = dt_util.utcnow()

    def sensor(protocol: str, key: str) -> str:
        return state_of(hass, entity_id(hass, "sensor", protocol, IDS[protocol], key)).state

    for protocol in protocols:
        last_fix = dt_util.parse_datetime(sensor(protocol, "last_fix"))
        assert last_fix is not None, protocol
        assert last_fix <= now, (protocol, last_fix, now)
    battery = {
        ("teltonika", "battery"): 92.0,
        ("teltonika", "battery_voltage"): 4.1,
        ("gt06", "battery"): 66.0,  # voltage level 4 of 6
        ("tk103", "battery"): 80.0,  # level code 5
        ("tk103", "battery_voltage"): 4.1,
        ("h02", "battery"): 92.0,
    }
    for (protocol, key), value in battery.items():
        shown = sensor(protocol, key)
        assert shown != "unknown", (protocol, key)
        assert float(shown) == pytest.approx(value), (protocol, key)
    # the GT06 0x13 status carries a voltage level, not volts: that sensor waits for a device
    # that sends them (the 0x23 heartbeat of newer models)
    assert sensor("gt06", "battery_voltage") == "unknown"


async def test_older_buffered_records_do_not_move_the_tracker_back(hass: HomeAssistant) -> None:
    imei = IDS["teltonika"]
    runtime = await setup_gateway(hass, gateway_entry([("teltonika", imei, "Van")]))
    start = start_time()
    await virtual_tracker(runtime, "teltonika", ROUTE, start=start).run()
    await hass.async_block_till_done()
    where = entity_id(hass, "device_tracker", "teltonika", imei, "location")
    before = location(state_of(hass, where))
    last_fix = entity_id(hass, "sensor", "teltonika", imei, "last_fix")
    fix_time = state_of(hass, last_fix).state
    odometer = entity_id(hass, "sensor", "teltonika", imei, "odometer")
    distance = state_of(hass, odometer).state
    # a burst of records from the morning (elsewhere), after a coverage gap
    elsewhere = circle_route((54.70, 25.30), 2000.0, 6)
    old = virtual_tracker(
        runtime, "teltonika", elsewhere, start=start - timedelta(hours=3), batch=6
    )
    await old.run()
    await hass.async_block_till_done()
    assert old.acked  # acknowledged: they are in the journal
    assert not old.pending
    assert await runtime.journal.count(imei) == len(ROUTE) + len(elsewhere)
    assert location(state_of(hass, where)) == before
    assert state_of(hass, last_fix).state == fix_time
    assert state_of(hass, odometer).state != "unknown"
    # the device odometer of the old records is smaller: the newest value stays
    assert state_of(hass, odometer).state == distance


async def test_unknown_tracker_is_discovered_and_its_resent_data_flows_in(
    hass: HomeAssistant,
) -> None:
    imei = IDS["teltonika"]
    entry = gateway_entry()
    runtime = await setup_gateway(hass, entry)
    tracker = virtual_tracker(runtime, "teltonika", ROUTE, start=start_time())
    assert await tracker.send_once() == "rejected"  # login answered 00: it keeps its buffer
    await hass.async_block_till_done()
    assert await runtime.journal.count() == 0
    [flow] = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flow["context"]["source"] == SOURCE_INTEGRATION_DISCOVERY
    # the discovery card's title, as the frontend renders it, is the one the README promises
    card = TRANSLATIONS["config"]["flow_title"].format(**flow["context"]["title_placeholders"])
    assert card == "New GPS tracker 356307042441013 (Teltonika)"
    assert flow["step_id"] == "tracker_confirm"
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {"name": "Van 7"})
    assert result["type"] == "abort"
    assert result["reason"] == "tracker_added"
    assert result["description_placeholders"] == {"name": "Van 7"}
    await hass.async_block_till_done()
    [subentry] = entry.subentries.values()
    assert (subentry.subentry_type, subentry.title) == (SUBENTRY_TRACKER, "Van 7")
    assert dict(subentry.data) == {"protocol": "teltonika", "device_id": imei}
    assert runtime.is_registered("teltonika", imei)
    # no restart: the device's next attempt is accepted and everything it buffered arrives
    await tracker.run()
    await hass.async_block_till_done()
    assert tracker.outcomes[-1] == "done"
    assert await runtime.journal.count(imei) == len(ROUTE)
    where = entity_id(hass, "device_tracker", "teltonika", imei, "location")
    assert location(state_of(hass, where)) == pytest.approx(ROUTE[-1], abs=COORD_TOLERANCE)
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"tracker:teltonika:{imei}"), entry.entry_id
    )
    assert device is not None
    assert device.name == "Van 7"
    assert device.serial_number == imei
    assert (device.config_entry_id, device.config_subentry_id) == (
        entry.entry_id,
        subentry.subentry_id,
    )


async def test_adding_a_tracker_by_hand_ends_its_discovery(hass: HomeAssistant) -> None:
    entry = gateway_entry()
    runtime = await setup_gateway(hass, entry)
    tracker = virtual_tracker(runtime, "osmand", ROUTE, start=start_time())
    assert await tracker.send_once() == "rejected"  # HTTP 400 for an unknown id
    await hass.async_block_till_done()
    assert len(hass.config_entries.flow.async_progress_by_handler(DOMAIN)) == 1
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_TRACKER), context={"source": "user"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"protocol": "osmand", "device_id": IDS["osmand"], "name": "Phone"}
    )
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    assert hass.config_entries.flow.async_progress_by_handler(DOMAIN) == []
    await tracker.run()
    await hass.async_block_till_done()
    where = entity_id(hass, "device_tracker", "osmand", IDS["osmand"], "location")
    assert location(state_of(hass, where)) == pytest.approx(ROUTE[-1], abs=COORD_TOLERANCE)


async def test_online_goes_off_after_the_configured_silence(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    device_id = IDS["h02"]
    runtime = await setup_gateway(
        hass, gateway_entry([("h02", device_id, "Trailer")], offline_minutes=10)
    )
    online = entity_id(hass, "binary_sensor", "h02", device_id, "online")
    assert state_of(hass, online).state == STATE_OFF  # never heard from
    start = start_time()
    await virtual_tracker(runtime, "h02", ROUTE[:2], start=start).run()
    await hass.async_block_till_done()
    assert state_of(hass, online).state == STATE_ON
    freezer.tick(timedelta(minutes=9))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state_of(hass, online).state == STATE_ON
    # the device resends what it sent (all duplicates): nothing new, but it was heard from
    resend = virtual_tracker(runtime, "h02", ROUTE[:2], start=start)
    await resend.run()
    assert runtime.gateway.stats.duplicates == 2
    freezer.tick(timedelta(minutes=1, seconds=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state_of(hass, online).state == STATE_ON
    freezer.tick(timedelta(minutes=9))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert state_of(hass, online).state == STATE_OFF
    # the tracker's position is kept while it is offline
    where = entity_id(hass, "device_tracker", "h02", device_id, "location")
    assert location(state_of(hass, where)) == pytest.approx(ROUTE[1], abs=COORD_TOLERANCE)


async def test_restart_keeps_position_odometer_and_engine_hours(hass: HomeAssistant) -> None:
    h02, teltonika = IDS["h02"], IDS["teltonika"]
    entry = gateway_entry([("h02", h02, "Trailer"), ("teltonika", teltonika, "Van")])
    runtime = await setup_gateway(hass, entry)
    start = start_time()
    first, rest = ROUTE[:5], ROUTE[4:]
    await asyncio.gather(
        virtual_tracker(runtime, "h02", first, start=start).run(),
        virtual_tracker(runtime, "teltonika", first, start=start).run(),
    )
    await hass.async_block_till_done()
    where = entity_id(hass, "device_tracker", "h02", h02, "location")
    odometer = entity_id(hass, "sensor", "h02", h02, "odometer")
    hours = entity_id(hass, "sensor", "teltonika", teltonika, "engine_hours")
    before = (location(state_of(hass, where)), state_of(hass, odometer).state)
    engine_before = float(state_of(hass, hours).state)
    assert float(before[1]) > 0.5  # km: four chords of the lap, computed from the fixes
    assert engine_before == pytest.approx(4 * INTERVAL / 3600, abs=1e-3)

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert not runtime.journal.is_open
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    runtime = entry.runtime_data
    assert (location(state_of(hass, where)), state_of(hass, odometer).state) == before
    assert float(state_of(hass, hours).state) == engine_before

    # the counters go on from where they were
    later = start + timedelta(seconds=4 * INTERVAL)
    await asyncio.gather(
        virtual_tracker(runtime, "h02", rest, start=later).run(),
        virtual_tracker(runtime, "teltonika", rest, start=later).run(),
    )
    await hass.async_block_till_done()
    lap = make_fixes(ROUTE, start=start, interval=INTERVAL)[-1].odometer_m / 1000
    assert float(state_of(hass, odometer).state) == pytest.approx(lap, abs=0.002)
    assert float(state_of(hass, hours).state) == pytest.approx(7 * INTERVAL / 3600, abs=1e-3)


async def test_positions_journaled_after_the_last_save_are_replayed(
    hass: HomeAssistant,
) -> None:
    """A crash after the ACK but before the counters were saved loses nothing."""
    h02 = IDS["h02"]
    entry = gateway_entry([("h02", h02, "Trailer")])
    runtime = await setup_gateway(hass, entry)
    start = start_time()
    await virtual_tracker(runtime, "h02", ROUTE[:3], start=start).run()
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    # what the gateway journaled (and acknowledged) right before Home Assistant died
    fixes = make_fixes(ROUTE, start=start, interval=INTERVAL)
    async with TrackerJournal(journal_path(hass)) as journal:
        await journal.append(
            [
                Position(protocol="h02", device_id=h02, fix_time=f.time, latitude=f.latitude,
                         longitude=f.longitude, valid=True, speed_kmh=f.speed_kmh)
                for f in fixes[3:]
            ]
        )  # fmt: skip
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    where = entity_id(hass, "device_tracker", "h02", h02, "location")
    assert location(state_of(hass, where)) == pytest.approx(ROUTE[-1], abs=1e-9)
    odometer = entity_id(hass, "sensor", "h02", h02, "odometer")
    assert float(state_of(hass, odometer).state) == pytest.approx(
        fixes[-1].odometer_m / 1000, abs=0.002
    )


async def test_unload_closes_the_ports_and_the_journal(hass: HomeAssistant) -> None:
    entry = gateway_entry([("teltonika", IDS["teltonika"], "Van")])
    runtime = await setup_gateway(hass, entry)
    ports = runtime.gateway.ports
    reader, writer = await asyncio.open_connection(HOST, ports["teltonika"])
    writer.write(teltonika_login(IDS["teltonika"]))
    assert await reader.readexactly(1) == b"\x01"
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert not runtime.journal.is_open
    # the open connection was closed, and nobody listens any more
    assert await reader.read() == b""
    writer.close()
    for protocol, port in ports.items():
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(HOST, port)
        assert protocol


async def test_removing_a_subentry_removes_the_tracker(hass: HomeAssistant) -> None:
    imei = IDS["teltonika"]
    entry = gateway_entry([("teltonika", imei, "Van"), ("h02", IDS["h02"], "Trailer")])
    runtime = await setup_gateway(hass, entry)
    subentry = next(s for s in entry.subentries.values() if s.title == "Van")
    where = entity_id(hass, "device_tracker", "teltonika", imei, "location")
    identifier = (DOMAIN, f"tracker:teltonika:{imei}")
    device = dr.async_get(hass).async_get_device_by_identifier(identifier, entry.entry_id)
    assert device is not None
    # a tracker's device goes with its subentry: it cannot be deleted on its own
    integration = hass.data["integrations"][DOMAIN]
    component = integration.get_component()
    assert not await component.async_remove_config_entry_device(hass, entry, device)
    assert hass.config_entries.async_remove_subentry(entry, subentry.subentry_id)
    await hass.async_block_till_done()
    assert dr.async_get(hass).async_get_device_by_identifier(identifier, entry.entry_id) is None
    assert hass.states.get(where) is None
    assert er.async_get(hass).async_get(where) is None
    assert not runtime.is_registered("teltonika", imei)
    assert runtime.is_registered("h02", IDS["h02"])
    # its data is no longer acknowledged
    tracker = virtual_tracker(runtime, "teltonika", ROUTE, start=start_time())
    assert await tracker.send_once() == "rejected"
    # a leftover device of the gateway (no subentry) may be deleted
    leftover = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, "tracker:gt06:1")}
    )
    assert await component.async_remove_config_entry_device(hass, entry, leftover)


async def test_diagnostics_and_entry_removal(hass: HomeAssistant) -> None:
    imei = IDS["teltonika"]
    entry = gateway_entry([("teltonika", imei, "Van")], protocols=("teltonika", "osmand"))
    runtime = await setup_gateway(hass, entry)
    await virtual_tracker(runtime, "teltonika", ROUTE, start=start_time()).run()
    await hass.async_block_till_done()
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["listening"]["protocols"] == ["teltonika", "osmand"]
    assert diagnostics["listening"]["tcp_or_http_ports"] == runtime.gateway.ports
    assert set(diagnostics["listening"]["udp_ports"]) == {"teltonika"}
    assert diagnostics["stats"]["positions"] == len(ROUTE)
    assert diagnostics["journal"]["positions"] == len(ROUTE)
    [tracker] = diagnostics["trackers"]
    assert tracker["device_id"] == imei
    assert tracker["online"] is True
    assert dt_util.parse_datetime(tracker["last_seen"]) is not None
    text = json.dumps(diagnostics)
    assert str(ROUTE[-1][0]) not in text  # no coordinates
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"tracker:teltonika:{imei}"), entry.entry_id
    )
    assert device is not None
    assert (await async_get_device_diagnostics(hass, entry, device))["name"] == "Van"
    other = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, "tracker:gt06:1")}
    )
    assert await async_get_device_diagnostics(hass, entry, other) == {}
    # a journal that cannot be read is reported, not raised
    await runtime.journal.close()
    broken = await async_get_config_entry_diagnostics(hass, entry)
    assert "not open" in broken["journal"]["positions"]

    path = journal_path(hass)
    assert await hass.async_add_executor_job(path.exists)
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not await hass.async_add_executor_job(path.exists)  # the history goes with it


async def test_raw_teltonika_session_inside_home_assistant(hass: HomeAssistant) -> None:
    """Newest-first packets and a resend: shown once, newest fix wins, nothing counted twice."""
    imei = IDS["teltonika"]
    runtime = await setup_gateway(hass, gateway_entry([("teltonika", imei, "Van")]))
    fixes = make_fixes(ROUTE, start=start_time(), interval=INTERVAL)
    reader, writer = await asyncio.open_connection(HOST, runtime.gateway.ports["teltonika"])
    writer.write(teltonika_login(imei))
    assert await reader.readexactly(1) == b"\x01"
    packet = teltonika_avl(fixes[::-1])  # a device set to send newest first
    writer.write(packet + packet)  # and a resend of the same packet
    assert await reader.readexactly(8) == b"\x00\x00\x00\x08" * 2
    writer.close()
    await hass.async_block_till_done()
    where = entity_id(hass, "device_tracker", "teltonika", imei, "location")
    assert location(state_of(hass, where)) == pytest.approx(ROUTE[-1], abs=1e-7)
    assert runtime.gateway.stats.duplicates == len(fixes)
    await wait_for(hass, lambda: runtime.gateway.stats.connections == 0, "disconnect")


async def test_two_records_of_one_second_and_place_both_reach_the_entities(
    hass: HomeAssistant,
) -> None:
    """Not a resend: the second record (another odometer) is stored and shown too."""
    imei = IDS["teltonika"]
    runtime = await setup_gateway(hass, gateway_entry([("teltonika", imei, "Van")]))
    fix = make_fixes(ROUTE, start=start_time(), interval=INTERVAL)[0]
    first, second = replace(fix, odometer_m=1000.0), replace(fix, odometer_m=1500.0)
    reader, writer = await asyncio.open_connection(HOST, runtime.gateway.ports["teltonika"])
    writer.write(teltonika_login(imei))
    assert await reader.readexactly(1) == b"\x01"
    writer.write(teltonika_avl([first, second]) + teltonika_avl([first, second]))  # + a resend
    assert await reader.readexactly(8) == b"\x00\x00\x00\x02" * 2
    writer.close()
    await hass.async_block_till_done()
    assert await runtime.journal.count(imei) == 2
    assert runtime.gateway.stats.duplicates == 2
    odometer = entity_id(hass, "sensor", "teltonika", imei, "odometer")
    assert float(state_of(hass, odometer).state) == pytest.approx(1.5)


# ------------------------------------------------------------------------------ lifecycle


async def test_a_port_in_use_retries_setup_with_a_translated_reason(hass: HomeAssistant) -> None:
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        entry = gateway_entry(protocols=("teltonika", "gt06"))
        entry.add_to_hass(hass)
        hass.config_entries.async_update_entry(
            entry, options=entry.options | {"ports": entry.options["ports"] | {"gt06": port}}
        )
        assert not await hass.config_entries.async_setup(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_RETRY
        assert entry.reason == (
            f"The GPS tracker gateway cannot listen for GT06 / Concox trackers on TCP port {port}: "
            f"{entry.reason.split(': ', 1)[1]}"
        )
        assert "in use" in entry.reason
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_journal_that_cannot_be_opened_retries_setup(
    hass: HomeAssistant, hass_config_dir: str
) -> None:
    (Path(hass_config_dir) / ".storage").write_text("not a directory")
    entry = gateway_entry()
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert entry.reason.startswith("The GPS tracker journal")


async def test_home_assistant_stopping_closes_the_gateway(hass: HomeAssistant) -> None:
    entry = gateway_entry([("h02", IDS["h02"], "Trailer")])
    runtime = await setup_gateway(hass, entry)
    port = runtime.gateway.ports["h02"]
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert not runtime.journal.is_open
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(HOST, port)
    assert await hass.config_entries.async_unload(entry.entry_id)  # nothing left to close


async def test_a_new_tracker_starts_from_its_last_journaled_position(
    hass: HomeAssistant,
) -> None:
    """No saved state (a re-added tracker): its last position comes from the journal."""
    fixes = make_fixes(ROUTE, start=start_time(), interval=INTERVAL)
    journal_path(hass).parent.mkdir()
    async with TrackerJournal(journal_path(hass)) as journal:
        await journal.append(
            [
                Position(protocol="gt06", device_id=IDS["gt06"], fix_time=f.time,
                         latitude=f.latitude, longitude=f.longitude, valid=True)
                for f in fixes
            ]
        )  # fmt: skip
    await setup_gateway(hass, gateway_entry([("gt06", IDS["gt06"], "Machine")]))
    where = entity_id(hass, "device_tracker", "gt06", IDS["gt06"], "location")
    assert location(state_of(hass, where)) == pytest.approx(ROUTE[-1], abs=1e-9)
    odometer = entity_id(hass, "sensor", "gt06", IDS["gt06"], "odometer")
    assert float(state_of(hass, odometer).state) == 0  # history before it was added: not counted


async def test_replay_pages_through_the_journal_and_ignores_a_broken_save(
    hass: HomeAssistant, hass_storage: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracker_runtime, "REPLAY_PAGE", 2)
    h02, gt06 = IDS["h02"], IDS["gt06"]
    entry = gateway_entry([("h02", h02, "Trailer"), ("gt06", gt06, "Machine")])
    runtime = await setup_gateway(hass, entry)
    start = start_time()
    await virtual_tracker(runtime, "h02", ROUTE[:2], start=start).run()
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    saved = hass_storage[TRACKER_STORE_KEY]["data"]["devices"]
    saved[f"gt06:{gt06}"] = {"fix": "somewhere"}  # damaged: that tracker starts afresh
    fixes = make_fixes(ROUTE, start=start, interval=INTERVAL)
    async with TrackerJournal(journal_path(hass)) as journal:
        await journal.append(
            [
                Position(protocol="h02", device_id=h02, fix_time=f.time, latitude=f.latitude,
                         longitude=f.longitude, valid=True)
                for f in fixes[2:]
            ]
        )  # fmt: skip
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    where = entity_id(hass, "device_tracker", "h02", h02, "location")
    assert location(state_of(hass, where)) == pytest.approx(ROUTE[-1], abs=1e-9)
    odometer = entity_id(hass, "sensor", "h02", h02, "odometer")
    assert float(state_of(hass, odometer).state) == pytest.approx(
        fixes[-1].odometer_m / 1000, abs=0.002
    )
    assert (
        state_of(hass, entity_id(hass, "device_tracker", "gt06", gt06, "location")).state
        == "unknown"
    )


async def test_replay_keeps_records_sharing_the_fix_time_at_a_page_edge(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two records of one fix time split by a page: the second one was skipped."""
    monkeypatch.setattr(tracker_runtime, "REPLAY_PAGE", 2)
    h02 = IDS["h02"]
    entry = gateway_entry([("h02", h02, "Trailer")])
    runtime = await setup_gateway(hass, entry)
    start = start_time()
    await virtual_tracker(runtime, "h02", ROUTE[:2], start=start).run()
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    fixes = make_fixes(ROUTE, start=start, interval=INTERVAL)
    at, last = fixes[2], fixes[3]

    def record(fix: Any, **values: Any) -> Position:
        return Position(protocol="h02", device_id=h02, fix_time=fix.time, latitude=fix.latitude,
                        longitude=fix.longitude, valid=True, **values)  # fmt: skip

    async with TrackerJournal(journal_path(hass)) as journal:
        # page 1: the fix at ``at`` and the first record at ``last``; page 2: the second one
        await journal.append([record(at), record(last, ignition=False)])
        await journal.append([record(last, ignition=True)])
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    ignition = entity_id(hass, "binary_sensor", "h02", h02, "ignition")
    assert state_of(hass, ignition).state == "on"


async def test_callbacks_for_a_tracker_that_was_just_removed_are_ignored(
    hass: HomeAssistant,
) -> None:
    """The gateway may report a position journaled just before the subentry went away."""
    runtime = await setup_gateway(hass, gateway_entry())
    position = Position(protocol="h02", device_id="gone", fix_time=dt_util.utcnow(),
                        latitude=1.0, longitude=2.0, valid=True)  # fmt: skip
    runtime.on_positions("h02", [position])
    runtime.on_message("h02", Heartbeat(protocol="h02", device_id="gone", ignition=True))
    assert runtime.devices == {}
    assert hass.states.async_entity_ids("device_tracker") == []


async def test_a_damaged_journal_row_costs_the_replay_not_the_setup(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    h02 = IDS["h02"]
    entry = gateway_entry([("h02", h02, "Trailer")])
    runtime = await setup_gateway(hass, entry)
    start = start_time()
    await virtual_tracker(runtime, "h02", ROUTE[:2], start=start).run()
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)

    def damage() -> None:
        with sqlite3.connect(journal_path(hass)) as conn:
            conn.execute(
                "INSERT INTO positions (protocol, device_id, fix_time_us, lat_e7, lon_e7,"
                " received_us, data) VALUES ('h02', ?, ?, 0, 0, 0, '{not json')",
                (h02, int((start + timedelta(hours=1)).timestamp() * 1e6)),
            )
        conn.close()

    await hass.async_add_executor_job(damage)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert f"Journal of tracker 'h02:{h02}' could not be read" in caplog.text
    where = entity_id(hass, "device_tracker", "h02", h02, "location")
    assert location(state_of(hass, where)) == pytest.approx(ROUTE[1], abs=COORD_TOLERANCE)


async def test_simulator_command_line_drives_a_tracker_into_home_assistant(
    hass: HomeAssistant,
) -> None:
    """``python -m simulator trackers ...`` as a user runs it, against the gateway in HA."""
    runtime = await setup_gateway(hass, gateway_entry([("h02", IDS["h02"], "Trailer")]))
    port = runtime.gateway.ports["h02"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", "trackers", "h02", "--device-id", IDS["h02"],
        "--host", HOST, "--port", str(port), "--points", "4", "--pace", "0", "--timeout", "20",
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )  # fmt: skip
    async with asyncio.timeout(30):
        out, _ = await process.communicate()
    assert process.returncode == 0, out
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert (summary["acked"], summary["pending"]) == (4, 0)
    await hass.async_block_till_done()
    assert await runtime.journal.count(IDS["h02"]) == 4
    where = entity_id(hass, "device_tracker", "h02", IDS["h02"], "location")
    assert "latitude" in state_of(hass, where).attributes


async def test_web_of_things_actions_and_triggers_leave_trackers_alone(
    hass: HomeAssistant,
) -> None:
    """A tracker's device is not a Thing: the actions say so, and it has no event triggers."""
    entry = gateway_entry([("h02", IDS["h02"], "Trailer")])
    await setup_gateway(hass, entry)
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"tracker:h02:{IDS['h02']}"), entry.entry_id
    )
    assert device is not None
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "read_property",
            {"device_id": device.id, "property": "speed"},
            blocking=True,
            return_response=True,
        )
    assert caught.value.translation_key == "device_not_found"
    assert await async_get_triggers(hass, device.id) == []


_EVERY_TRACKER = {"speed", "course", "odometer", "engine_hours", "last_fix"}


def test_each_protocol_keeps_its_sensors() -> None:
    """The sensors come from the library's protocol table, and are those the glue once listed.

    Adding one adds entities to existing installations, so the set is pinned here.
    """
    shown = {
        protocol: {d.key for d in TRACKER_SENSORS if d.shown_for(protocol)}
        for protocol in ("teltonika", "gt06", "tk103", "coban", "h02", "osmand")
    }
    assert shown == {
        "teltonika": _EVERY_TRACKER
        | {
            "altitude",
            "satellites",
            "battery",
            "battery_voltage",
            "external_voltage",
            "gsm_signal",
        },
        "gt06": _EVERY_TRACKER
        | {
            "altitude",
            "satellites",
            "battery",
            "battery_voltage",
            "external_voltage",
            "gsm_signal",
        },
        "tk103": _EVERY_TRACKER | {"battery", "battery_voltage", "external_voltage"},
        "coban": _EVERY_TRACKER | {"altitude"},
        "h02": _EVERY_TRACKER | {"battery"},
        "osmand": _EVERY_TRACKER | {"altitude", "battery"},
    }


def test_device_identifiers_are_those_installations_store() -> None:
    """One helper builds every device identifier; the registry holds these texts."""
    imei = IDS["teltonika"]
    assert device_identifier(KIND_TRACKER_GATEWAY, f"teltonika:{imei}") == (
        DOMAIN,
        f"tracker:teltonika:{imei}",
    )
    for kind in (KIND_WOT_THING, KIND_WOT_DIRECTORY):
        assert device_identifier(kind, "urn:dev:ops:lamp-1") == (DOMAIN, "urn:dev:ops:lamp-1")
    with pytest.raises(KeyError):
        device_identifier("modbus", "1")


async def test_the_location_is_a_primary_entity_also_where_it_was_diagnostic(
    hass: HomeAssistant,
) -> None:
    """The device page and dashboards show where a tracker is (issue 10, item 3).

    Home Assistant files device trackers under Diagnostic unless the entity says otherwise. A
    location registered as diagnostic by an earlier version becomes primary at the next start.
    """
    teltonika, h02 = IDS["teltonika"], IDS["h02"]
    entry = gateway_entry([("teltonika", teltonika, "Van"), ("h02", h02, "Trailer")])
    entry.add_to_hass(hass)
    registry = er.async_get(hass)
    earlier = registry.async_get_or_create(
        "device_tracker",
        DOMAIN,
        f"tracker_h02_{h02}_location",
        config_entry=entry,
        entity_category=EntityCategory.DIAGNOSTIC,
    )
    assert earlier.entity_category is EntityCategory.DIAGNOSTIC
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    for protocol, device_id in (("teltonika", teltonika), ("h02", h02)):
        where = entity_id(hass, "device_tracker", protocol, device_id, "location")
        registered = registry.async_get(where)
        assert registered is not None
        assert registered.entity_category is None, protocol
    assert entity_id(hass, "device_tracker", "h02", h02, "location") == earlier.entity_id
