"""Positions a Traccar server forwards over MQTT, end to end.

A real Mosquitto broker (Debian's package, :mod:`tests.mosquitto_support`), Home Assistant's
real MQTT integration connected to it (not the ``mqtt_mock`` fixture), the gateway entry with
only the Traccar source (no listener): paho publishes the JSON Traccar's
``PositionForwarderMqtt`` sends to its default topic ``positions``, and the tracker's entities,
journal and discovery follow as they do for the gateway's own listeners.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import copy
from datetime import timedelta
from functools import partial
import json
import logging
from pathlib import Path
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY, ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from paho.mqtt import publish
import pytest

from custom_components.thingbridge.bridges.trackers import runtime as tracker_runtime
from custom_components.thingbridge.bridges.trackers.runtime import TrackerGatewayRuntime
from custom_components.thingbridge.const import DOMAIN
from custom_components.thingbridge.diagnostics import async_get_config_entry_diagnostics
from custom_components.thingbridge.m2m import JournalError
from tests.mosquitto_support import HOST, home_assistant_mqtt, skip_or_fail
from tests.tracker_support import entity_id, gateway_entry, setup_gateway, state_of, wait_for

pytestmark = pytest.mark.usefixtures("socket_enabled")

UNIQUE_ID = "356307042441013"
TOPIC = "positions"  # Traccar's default forward.topic


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of the test's own: the journal is written there."""
    return hass_tmp_config_dir


@pytest.fixture
async def broker(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[int]:
    """Mosquitto on a free port, and Home Assistant's MQTT integration connected to it."""
    async with home_assistant_mqtt(hass, tmp_path) as port:
        yield port


def forwarded(
    latitude: float,
    longitude: float,
    *,
    seconds_ago: float,
    unique_id: str = UNIQUE_ID,
    **attributes: Any,
) -> dict[str, Any]:
    """The JSON Traccar's MQTT forwarder publishes: PositionData {position, device}."""
    fix = (dt_util.utcnow() - timedelta(seconds=seconds_ago)).isoformat(timespec="milliseconds")
    return {
        "position": {
            "id": 1,
            "attributes": {"sat": 9, "ignition": True, "motion": True, **attributes},
            "deviceId": 7,
            "protocol": "teltonika",
            "serverTime": fix,
            "deviceTime": fix,
            "fixTime": fix,
            "outdated": False,
            "valid": True,
            "latitude": latitude,
            "longitude": longitude,
            "altitude": 12.0,
            "speed": 27.0,
            "course": 90.0,
            "accuracy": 0.0,
        },
        "device": {"id": 7, "name": "Van 3", "uniqueId": unique_id, "status": "online"},
    }


async def publish_to(hass: HomeAssistant, port: int, payload: bytes | str) -> None:
    """Publish as Traccar does: QoS 1, from a client of its own (paho, off the event loop)."""
    await hass.async_add_executor_job(
        partial(publish.single, TOPIC, payload, qos=1, hostname=HOST, port=port)
    )


async def publish_until(
    hass: HomeAssistant, port: int, payload: str, check: Callable[[], bool], what: str
) -> None:
    """Publish until ``check()`` holds: the first publish may beat the subscription.

    Home Assistant's MQTT client sends SUBSCRIBE after a short cooldown, and a broker drops a
    QoS 1 message nobody subscribed to yet. Traccar keeps publishing, and the journal takes a
    repeated position once.
    """
    for _ in range(50):
        await publish_to(hass, port, payload)
        for _ in range(20):
            await hass.async_block_till_done()
            if check():
                return
            await asyncio.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


async def setup_traccar_gateway(hass: HomeAssistant) -> TrackerGatewayRuntime:
    entry = gateway_entry([("traccar", UNIQUE_ID, "Van 3")], protocols=(), traccar_topic=TOPIC)
    runtime = await setup_gateway(hass, entry)
    assert runtime.gateway.ports == {}  # no listener of our own
    await wait_for(hass, lambda: runtime.traccar.subscribed, "the Traccar subscription")
    return runtime


async def test_traccar_positions_over_real_mqtt_drive_the_tracker(
    hass: HomeAssistant, broker: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Published Traccar JSON moves the tracker; units are Home Assistant's; hostile ignored."""
    runtime = await setup_traccar_gateway(hass)
    where = entity_id(hass, "device_tracker", "traccar", UNIQUE_ID, "location")
    speed = entity_id(hass, "sensor", "traccar", UNIQUE_ID, "speed")
    odometer = entity_id(hass, "sensor", "traccar", UNIQUE_ID, "odometer")
    hours = entity_id(hass, "sensor", "traccar", UNIQUE_ID, "engine_hours")
    ignition = entity_id(hass, "binary_sensor", "traccar", UNIQUE_ID, "ignition")

    first = forwarded(54.6872, 25.2797, seconds_ago=60, odometer=123456.0, hours=7_200_000)
    await publish_until(
        hass,
        broker,
        json.dumps(first),
        lambda: state_of(hass, where).attributes.get("latitude") == 54.6872,
        "the first Traccar position",
    )
    received_before = runtime.traccar.received
    state = state_of(hass, where)
    assert state.attributes["longitude"] == 25.2797
    assert state.attributes["source_type"] == "gps"
    assert float(state_of(hass, speed).state) == pytest.approx(27.0 * 1.852)  # knots → km/h
    assert state_of(hass, odometer).attributes["unit_of_measurement"] == "km"
    assert float(state_of(hass, odometer).state) == pytest.approx(123.456)  # metres → km
    assert float(state_of(hass, hours).state) == pytest.approx(2.0)  # ms → h
    assert state_of(hass, ignition).state == STATE_ON

    # Hostile documents on the same topic: ignored, counted, logged at debug, nothing breaks.
    caplog.set_level(logging.DEBUG, logger=tracker_runtime.__name__)
    nan = json.dumps(forwarded(1.0, 2.0, seconds_ago=30)).replace("2.0", "NaN", 1)
    far = forwarded(91.0, 2.0, seconds_ago=30)
    for hostile in (b"not json", nan, json.dumps(far), b"[" * 5000, b"{" + b" " * 70_000):
        await publish_to(hass, broker, hostile)

    second = forwarded(54.69, 25.28, seconds_ago=30, ignition=False, odometer=124000.0)
    await publish_to(hass, broker, json.dumps(second))
    await wait_for(
        hass,
        lambda: state_of(hass, where).attributes.get("latitude") == 54.69,
        "the second Traccar position",
    )
    assert runtime.traccar.rejected == 5
    assert state_of(hass, ignition).state == STATE_OFF
    assert float(state_of(hass, odometer).state) == pytest.approx(124.0)
    assert "Ignored 1 Traccar document(s) on MQTT topic 'positions'" in caplog.text
    # rate-limited: one debug line for the five, not five
    assert caplog.text.count("Traccar document(s)") == 1

    # A redelivery (QoS 1) and a buffered older position do not move the tracker back.
    await publish_to(hass, broker, json.dumps(first))
    await publish_to(hass, broker, json.dumps(second))
    await hass.async_block_till_done()
    await wait_for(hass, lambda: runtime.traccar.received == received_before + 8, "the resends")
    await wait_for(hass, lambda: runtime.traccar._drain is None, "the journal")
    assert state_of(hass, where).attributes["latitude"] == 54.69

    # Journaled like every other position (assets and trips replay from the journal);
    # the resends are recognised.
    records = await runtime.journal.positions(UNIQUE_ID, protocol="traccar")
    assert [r.position.latitude for r in records] == [54.6872, 54.69]
    assert records[0].position.io["protocol"] == "teltonika"

    diagnostics = await async_get_config_entry_diagnostics(hass, runtime.entry)
    assert diagnostics["traccar_mqtt"] == {
        "topic": "positions",
        "subscribed": True,
        "received": received_before + 8,
        "accepted": received_before + 3,
        "rejected": 5,
        "dropped": 0,
    }


async def test_unknown_traccar_device_is_offered(hass: HomeAssistant, broker: int) -> None:
    """A uniqueId nobody added raises a discovery flow; confirming it adds the tracker."""
    runtime = await setup_traccar_gateway(hass)
    other = "van-7"

    def offered() -> list[Any]:
        return [
            f
            for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
            if f["context"].get("source") == SOURCE_INTEGRATION_DISCOVERY
        ]

    unknown = json.dumps(forwarded(1.5, 2.5, seconds_ago=5, unique_id=other))
    await publish_until(hass, broker, unknown, lambda: bool(offered()), "the discovery flow")
    flow = offered()[0]
    assert flow["step_id"] == "tracker_confirm"
    assert flow["context"]["title_placeholders"]["name"] == "New GPS tracker van-7 (Traccar)"
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {"name": "Van 7"})
    assert result["reason"] == "tracker_added"
    await wait_for(hass, lambda: runtime.is_registered("traccar", other), "the new tracker")
    # Traccar resends nothing to an unknown device: the next position shows it.
    await publish_to(hass, broker, json.dumps(forwarded(1.6, 2.6, seconds_ago=1, unique_id=other)))
    where = entity_id(hass, "device_tracker", "traccar", other, "location")
    await wait_for(
        hass, lambda: state_of(hass, where).attributes.get("latitude") == 1.6, "the new tracker"
    )
    assert runtime.traccar.rejected == 0


async def test_without_mqtt_the_source_waits_and_unloads(hass: HomeAssistant) -> None:
    """Without the MQTT integration the gateway still loads; the source never subscribes."""
    entry = gateway_entry([("traccar", UNIQUE_ID, "Van 3")], protocols=(), traccar_topic=TOPIC)
    runtime = await setup_gateway(hass, entry)
    assert runtime.traccar.subscribed is False
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert runtime.traccar.is_stopped()


def test_missing_broker_skips_or_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without mosquitto the MQTT tests skip naming why; under CI they fail instead."""
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="mosquitto"):
        skip_or_fail("mosquitto is not installed")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the MQTT tests"):
        skip_or_fail("mosquitto is not installed")


def test_forwarded_helper_matches_traccar_shape() -> None:
    """The test's document has the members Traccar's PositionData serialises."""
    doc = copy.deepcopy(forwarded(1.0, 2.0, seconds_ago=0))
    assert set(doc) == {"position", "device"}
    assert {"fixTime", "latitude", "longitude", "speed", "attributes"} <= set(doc["position"])


async def test_full_queue_and_failing_journal(
    hass: HomeAssistant, broker: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond the queue bound positions are dropped and counted; a journal failure still shows."""
    runtime = await setup_traccar_gateway(hass)
    where = entity_id(hass, "device_tracker", "traccar", UNIQUE_ID, "location")
    monkeypatch.setattr(tracker_runtime, "TRACCAR_MAX_PENDING", 0)
    doc = json.dumps(forwarded(10.0, 20.0, seconds_ago=20))
    await publish_until(hass, broker, doc, lambda: runtime.traccar.dropped > 0, "a dropped one")
    assert runtime.traccar.accepted == 0
    assert state_of(hass, where).attributes.get("latitude") != 10.0
    monkeypatch.setattr(tracker_runtime, "TRACCAR_MAX_PENDING", 10)

    async def broken_append(positions: Any) -> list[bool]:
        raise JournalError("append", "journal.db", "disk full")

    monkeypatch.setattr(runtime.journal, "append", broken_append)
    await publish_until(
        hass,
        broker,
        json.dumps(forwarded(11.0, 21.0, seconds_ago=10)),
        lambda: state_of(hass, where).attributes.get("latitude") == 11.0,
        "the unjournaled position",
    )


async def test_unloaded_before_mqtt_is_ready(hass: HomeAssistant, tmp_path: Path) -> None:
    """A gateway unloaded before MQTT comes up never subscribes; MQTT that fails is logged."""
    entry = gateway_entry([("traccar", UNIQUE_ID, "Van 3")], protocols=(), traccar_topic=TOPIC)
    runtime = await setup_gateway(hass, entry)
    assert await hass.config_entries.async_unload(entry.entry_id)
    async with home_assistant_mqtt(hass, tmp_path):
        await hass.async_block_till_done()
        assert runtime.traccar.subscribed is False


async def test_mqtt_not_available_is_logged(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When MQTT is set up but its client never becomes available, the source says so."""

    async def unavailable(hass: HomeAssistant) -> bool:
        return False

    monkeypatch.setattr(mqtt, "async_wait_for_mqtt_client", unavailable)
    hass.config.components.add("mqtt")
    entry = gateway_entry([("traccar", UNIQUE_ID, "Van 3")], protocols=(), traccar_topic=TOPIC)
    runtime = await setup_gateway(hass, entry)
    await hass.async_block_till_done()
    assert "MQTT is not available: Traccar positions are not received" in caplog.text
    assert runtime.traccar.subscribed is False
    assert await hass.config_entries.async_unload(entry.entry_id)
