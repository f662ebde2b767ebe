"""Setting up, pushing, polling and unloading Thing and directory entries in a real Home Assistant."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import (
    CONF_TOKEN,
    CONF_URL,
    EVENT_HOMEASSISTANT_STOP,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.thingbridge import async_remove_config_entry_device
from custom_components.thingbridge.const import (
    CONF_KIND,
    DIRECTORY_SCAN_INTERVAL,
    DOMAIN,
    KIND_WOT_DIRECTORY,
    KIND_WOT_THING,
    SCAN_INTERVAL,
)
from simulator.things import make_lamp, make_plug, make_sensor
from simulator.wot import WotSimulator
from tests.conftest import StaticServer

TEMP = "sensor.simulated_temperature_sensor_temperature"
LAMP = "light.simulated_lamp"


async def wait_for(hass: HomeAssistant, check: Callable[[], bool], what: str) -> None:
    """Let Home Assistant run until ``check()`` holds (bounded, so a hang fails the test).

    The bound is a count of turns, not a clock (some tests freeze time), and generous: at
    least 30 s, so a loaded machine is not taken for a hang.
    """
    for _ in range(3000):
        if check():
            return
        await hass.async_block_till_done()
        await asyncio.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


def _thing_entry(url: str, unique_id: str, **data: str) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title=unique_id,
        unique_id=unique_id,
        data={CONF_KIND: KIND_WOT_THING, CONF_URL: url, **data},
    )


async def _poll(hass: HomeAssistant) -> None:
    """Move Home Assistant's clock past the polling interval (the real clock keeps running)."""
    async_fire_time_changed(hass, dt_util.utcnow() + SCAN_INTERVAL + timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_setup_and_unload(
    hass: HomeAssistant,
    wot_sim: WotSimulator,
    sensor_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    await _setup(hass, sensor_entry)
    assert sensor_entry.state is ConfigEntryState.LOADED

    state = hass.states.get(TEMP)
    assert state is not None
    assert float(state.state) == wot_sim.get_property("sensor", "temperature")
    assert state.attributes["unit_of_measurement"] == "°C"
    assert state.attributes["device_class"] == "temperature"
    assert state.attributes["state_class"] == "measurement"
    motion = hass.states.get("binary_sensor.simulated_temperature_sensor_motion")
    assert motion is not None
    assert motion.attributes["device_class"] == "motion"

    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, "urn:thingbridge:simulator:sensor"), sensor_entry.entry_id
    )
    assert device is not None
    assert device.name == "Simulated Temperature Sensor"
    assert device.configuration_url == wot_sim.base_url.rstrip("/")
    entity = entity_registry.async_get(TEMP)
    assert entity is not None
    assert entity.unique_id == "urn:thingbridge:simulator:sensor_property:temperature"
    assert entity.device_id == device.id

    assert await hass.config_entries.async_unload(sensor_entry.entry_id)
    await hass.async_block_till_done()
    assert sensor_entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get(TEMP).state == STATE_UNAVAILABLE
    # The push channels are closed with the entry.
    assert not wot_sim.live


async def test_sse_push_reaches_state_without_polling(
    hass: HomeAssistant, socket_enabled: None
) -> None:
    sim = WotSimulator([make_lamp()], tick_interval=3600)
    await sim.start("127.0.0.1", 0)
    try:
        entry = _thing_entry(sim.url_of("lamp"), "urn:thingbridge:simulator:lamp")
        await _setup(hass, entry)
        assert hass.states.get(LAMP).state == "off"
        await wait_for(hass, lambda: bool(sim.live), "the lamp's SSE stream")
        # No clock is advanced: only push can deliver these.
        sim.set_property("lamp", "on", True)
        await wait_for(hass, lambda: hass.states.get(LAMP).state == "on", "push of on=true")
        sim.set_property("lamp", "brightness", 50)
        await wait_for(
            hass,
            lambda: hass.states.get(LAMP).attributes.get("brightness") == 128,
            "push of brightness",
        )
        coordinator = entry.runtime_data.things["urn:thingbridge:simulator:lamp"]
        assert "on" in coordinator.observed
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await sim.stop()


async def test_long_poll_push(
    hass: HomeAssistant, wot_sim: WotSimulator, sensor_entry: MockConfigEntry
) -> None:
    await _setup(hass, sensor_entry)
    await wait_for(hass, lambda: bool(wot_sim.live), "the sensor's long-poll requests")
    wot_sim.set_property("sensor", "temperature", 25.5)
    await wait_for(hass, lambda: hass.states.get(TEMP).state == "25.5", "long-poll push")


async def test_no_poll_timer_while_every_property_is_pushed(
    hass: HomeAssistant, wot_sim: WotSimulator, sensor_entry: MockConfigEntry
) -> None:
    """A poll of a Thing whose readable properties are all pushed reads nothing: no timer then.

    The timer is back while the push channel is down, and gone again once it is up.
    """
    await _setup(hass, sensor_entry)
    coordinator = sensor_entry.runtime_data.things["urn:thingbridge:simulator:sensor"]
    readable = {name for name, prop in coordinator.td.properties.items() if prop.readable}
    await wait_for(hass, lambda: coordinator.observed == readable, "the push channel")
    assert coordinator.update_interval is None
    port = wot_sim.port
    await wot_sim.stop()
    await wait_for(hass, lambda: not coordinator.observed, "the channel to drop")
    assert coordinator.update_interval == SCAN_INTERVAL
    await wot_sim.start("127.0.0.1", port)
    await wait_for(hass, lambda: coordinator.observed == readable, "the channel back")
    assert coordinator.update_interval is None
    await wait_for(hass, lambda: bool(wot_sim.live), "the long-poll request held")
    wot_sim.set_property("sensor", "temperature", 26.5)
    await wait_for(hass, lambda: hass.states.get(TEMP).state == "26.5", "long-poll push")


async def test_availability_follows_the_device(
    hass: HomeAssistant,
    wot_sim: WotSimulator,
    sensor_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await _setup(hass, sensor_entry)
    assert hass.states.get(TEMP).state != STATE_UNAVAILABLE

    # The device goes away: the push channel drops, a refresh fails, entities go unavailable.
    caplog.set_level(logging.INFO)
    port = wot_sim.port
    await wot_sim.stop()
    await hass.async_block_till_done(wait_background_tasks=True)
    for _ in range(2):
        await _poll(hass)
    assert hass.states.get(TEMP).state == STATE_UNAVAILABLE
    gone = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(gone) == 1

    # It comes back on the same address: available again, logged once.
    wot_sim.set_property("sensor", "temperature", 19.0)
    await wot_sim.start("127.0.0.1", port)
    for _ in range(2):
        await _poll(hass)
    assert hass.states.get(TEMP).state == "19.0"
    recovered = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(recovered) == 1
    assert recovered[0].levelno == logging.INFO


async def test_property_that_fails_alone_is_unknown(
    hass: HomeAssistant, http_server: StaticServer
) -> None:
    td = {
        "title": "Partial",
        "id": "urn:test:partial",
        "properties": {
            "good": {"type": "number", "unit": "W", "readOnly": True, "forms": [{"href": "/good"}]},
            "bad": {"type": "number", "readOnly": True, "forms": [{"href": "/bad"}]},
            "label": {"type": "string", "readOnly": True, "forms": [{"href": "/label"}]},
            "obj": {"type": "object", "readOnly": True, "forms": [{"href": "/obj"}]},
            "flag": {"type": "number", "readOnly": True, "forms": [{"href": "/flag"}]},
            "rpm": {"type": "integer", "unit": "rpm", "readOnly": True, "forms": [{"href": "/r"}]},
        },
    }
    http_server.add("/good", 12.5)
    http_server.add("/bad", "oops", status=500)
    http_server.add("/label", '"hello"')
    http_server.add("/obj", {"a": 1})
    http_server.add("/flag", True)
    http_server.add("/r", 900)
    await _setup(hass, _thing_entry(http_server.add("/td", td), "urn:test:partial"))
    assert hass.states.get("sensor.partial_good").state == "12.5"
    assert hass.states.get("sensor.partial_good").attributes["device_class"] == "power"
    assert hass.states.get("sensor.partial_bad").state == STATE_UNKNOWN
    assert hass.states.get("sensor.partial_label").state == "hello"
    # A numeric sensor that got a boolean shows unknown rather than a wrong number.
    assert hass.states.get("sensor.partial_flag").state == STATE_UNKNOWN
    rpm = hass.states.get("sensor.partial_rpm")
    assert rpm.state == "900"
    assert rpm.attributes["unit_of_measurement"] == "rpm"
    # Objects are kept, as a diagnostic sensor that is disabled by default.
    assert hass.states.get("sensor.partial_obj") is None
    entity = er.async_get(hass).async_get("sensor.partial_obj")
    assert entity is not None
    assert entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION


async def test_unreachable_thing_retries(hass: HomeAssistant, socket_enabled: None) -> None:
    entry = _thing_entry("http://127.0.0.1:9/td", "x")
    await _setup(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "Could not fetch the Thing Description at http://127.0.0.1:9/td" in entry.reason


async def test_invalid_td_is_a_setup_error(hass: HomeAssistant, http_server: StaticServer) -> None:
    entry = _thing_entry(http_server.add("/td", {"title": ""}), "y")
    await _setup(hass, entry)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "$.title: missing or empty" in entry.reason


async def test_rejected_credentials_start_reauth(hass: HomeAssistant, socket_enabled: None) -> None:
    sim = WotSimulator([make_plug(token="right-token")], tick_interval=3600)
    await sim.start("127.0.0.1", 0)
    try:
        entry = _thing_entry(
            sim.url_of("plug"), "urn:thingbridge:simulator:plug", **{CONF_TOKEN: "wrong-token"}
        )
        await _setup(hass, entry)
        assert entry.state is ConfigEntryState.SETUP_ERROR
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
        # Secrets stay out of the reason shown to the user.
        assert "wrong-token" not in (entry.reason or "")
    finally:
        await sim.stop()


async def test_directory_devices_come_and_go(
    hass: HomeAssistant,
    socket_enabled: None,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
    hass_ws_client: WebSocketGenerator,
) -> None:
    sim = WotSimulator([make_lamp(), make_sensor()], tick_interval=3600)
    await sim.start("127.0.0.1", 0)
    try:
        entry = MockConfigEntry(
            domain=DOMAIN,
            title="Gateway",
            unique_id=f"{sim.base_url}things",
            data={CONF_KIND: KIND_WOT_DIRECTORY, CONF_URL: f"{sim.base_url}.well-known/wot"},
        )
        await _setup(hass, entry)
        assert entry.state is ConfigEntryState.LOADED

        def devices() -> set[str]:
            return {
                d.name or ""
                for d in dr.async_entries_for_config_entry(device_registry, entry.entry_id)
            }

        assert devices() == {"Simulated Lamp", "Simulated Temperature Sensor"}
        assert hass.states.get(LAMP) is not None
        assert hass.states.get(TEMP) is not None

        # The lamp leaves the directory and a plug joins it.
        stop_listeners = hass.bus.async_listeners()[EVENT_HOMEASSISTANT_STOP]
        lamp = sim.things.pop("lamp")
        sim.things["plug"] = make_plug()
        freezer.tick(DIRECTORY_SCAN_INTERVAL)
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert devices() == {"Simulated Temperature Sensor", "Simulated Smart Plug"}
        # The lamp's coordinator stopped listening for Home Assistant's stop; the plug's listens.
        assert hass.bus.async_listeners()[EVENT_HOMEASSISTANT_STOP] == stop_listeners
        assert hass.states.get("sensor.simulated_smart_plug_power") is not None

        # A device still present cannot be removed by hand; a stale one can.
        assert await async_setup_component(hass, "config", {})
        client = await hass_ws_client(hass)
        sensor = device_registry.async_get_device_by_identifier(
            (DOMAIN, "urn:thingbridge:simulator:sensor"), entry.entry_id
        )
        assert sensor is not None
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": entry.entry_id,
                "device_id": sensor.id,
            }
        )
        response = await client.receive_json()
        assert not response["success"]
        stale = device_registry.async_get_or_create(
            config_entry_id=entry.entry_id, identifiers={(DOMAIN, "urn:gone")}, name="Gone"
        )
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": entry.entry_id,
                "device_id": stale.id,
            }
        )
        response = await client.receive_json()
        assert response["success"]
        sim.things["lamp"] = lamp
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        await sim.stop()


async def test_directory_keeps_a_thing_it_could_not_read_once(
    hass: HomeAssistant,
    http_server: StaticServer,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A Thing whose TD is unreadable in one scan is not removed until a second scan."""

    def td(name: str) -> dict[str, object]:
        return {
            "title": name,
            "id": f"urn:test:{name}",
            "properties": {"t": {"type": "number", "readOnly": True, "forms": [{"href": "/t"}]}},
        }

    http_server.add("/t", 20)
    http_server.add("/things", [td("a"), td("b")])
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Dir",
        unique_id="dir",
        data={CONF_KIND: KIND_WOT_DIRECTORY, CONF_URL: http_server.url("/things")},
    )
    await _setup(hass, entry)

    def devices() -> set[str]:
        return {
            d.name or "" for d in dr.async_entries_for_config_entry(device_registry, entry.entry_id)
        }

    assert devices() == {"a", "b"}
    http_server.add("/things", [td("a"), {"title": "b", "properties": {"t": {"forms": []}}}])
    for expected in ({"a", "b"}, {"a"}):
        freezer.tick(DIRECTORY_SCAN_INTERVAL)
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert devices() == expected

    # Once the entry is unloaded, its devices can be deleted by hand.
    assert await hass.config_entries.async_unload(entry.entry_id)
    device = device_registry.async_get_device_by_identifier((DOMAIN, "urn:test:a"), entry.entry_id)
    assert device is not None
    assert await async_remove_config_entry_device(hass, entry, device)


async def test_directory_scan_stops_with_the_entry(
    hass: HomeAssistant,
    http_server: StaticServer,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A scan still running when the entry unloads is cancelled: it adds nothing afterwards."""
    from custom_components.thingbridge.bridges.wot import runtime as wot_runtime  # noqa: PLC0415

    http_server.add("/t", 20)
    td = {
        "title": "a",
        "id": "urn:test:a",
        "properties": {"t": {"type": "number", "readOnly": True, "forms": [{"href": "/t"}]}},
    }
    http_server.add("/things", [td])
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Dir",
        unique_id="dir",
        data={CONF_KIND: KIND_WOT_DIRECTORY, CONF_URL: http_server.url("/things")},
    )
    await _setup(hass, entry)
    runtime = entry.runtime_data
    real_explore = wot_runtime.explore
    started = asyncio.Event()
    release = asyncio.Event()
    calls: list[str] = []

    async def slow_explore(*args: object, **kwargs: object) -> object:
        calls.append("scan")
        started.set()
        await release.wait()
        return await real_explore(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(wot_runtime, "explore", slow_explore)
    http_server.add("/things", [td, {**td, "title": "b", "id": "urn:test:b"}])
    freezer.tick(DIRECTORY_SCAN_INTERVAL)
    async_fire_time_changed(hass)
    await asyncio.wait_for(started.wait(), 5)
    # A second tick while the first scan runs does not start another one.
    freezer.tick(DIRECTORY_SCAN_INTERVAL)
    async_fire_time_changed(hass)
    await asyncio.sleep(0)
    assert calls == ["scan"]

    assert await hass.config_entries.async_unload(entry.entry_id)
    release.set()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert set(runtime.things) == {"urn:test:a"}


async def test_unload_after_stop_and_pending_refresh(
    hass: HomeAssistant,
    wot_sim: WotSimulator,
    sensor_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unloading after Home Assistant's stop event logs no error and cancels a pending refresh."""
    await _setup(hass, sensor_entry)
    coordinator = next(iter(sensor_entry.runtime_data.things.values()))

    # The refresh a dropped push channel asks for belongs to the entry.
    started = asyncio.Event()
    gate = asyncio.Event()
    cancelled: list[bool] = []

    async def hanging_refresh() -> None:
        started.set()
        try:
            await gate.wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    monkeypatch.setattr(coordinator, "async_request_refresh", hanging_refresh)
    coordinator._on_connection(False)
    await asyncio.wait_for(started.wait(), 5)

    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await asyncio.sleep(0)  # not async_block_till_done: that would wait for the hanging refresh
    try:
        assert await hass.config_entries.async_unload(sensor_entry.entry_id)
        assert cancelled == [True]
    finally:
        gate.set()
    await hass.async_block_till_done()
    assert "Unable to remove unknown job listener" not in caplog.text


async def test_directory_leaves_a_thing_with_its_own_entry_alone(
    hass: HomeAssistant,
    wot_sim: WotSimulator,
    sensor_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Thing added by itself is not added again by a directory listing it (same unique IDs)."""
    await _setup(hass, sensor_entry)
    directory = MockConfigEntry(
        domain=DOMAIN,
        title="Gateway",
        unique_id=f"{wot_sim.base_url}things",
        data={CONF_KIND: KIND_WOT_DIRECTORY, CONF_URL: f"{wot_sim.base_url}.well-known/wot"},
    )
    await _setup(hass, directory)
    assert set(directory.runtime_data.things) == {"urn:thingbridge:simulator:lamp"}
    entity = entity_registry.async_get(TEMP)
    assert entity is not None
    assert entity.config_entry_id == sensor_entry.entry_id
    assert "already exists" not in caplog.text
