"""Fixes a source reported while the register was not loaded come from the recorder."""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.util import dt as dt_util
from homeassistant.util.location import vincenty
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.thingbridge.const import DOMAIN
from tests.bridges.assets.support import CUSTOMER_A, add_asset, add_register, setup_zones

SOURCE = "device_tracker.phone_van"
YARD = (52.5210, 13.4050)


def send(hass: HomeAssistant, when: datetime, point: tuple[float, float]) -> None:
    """A fix taken at ``when`` (the device's time: the recorder keeps the arrival's)."""
    hass.states.async_set(
        SOURCE,
        "not_home",
        {"latitude": point[0], "longitude": point[1], "gps_accuracy": 5,
         "fix_time": when.isoformat()},
    )  # fmt: skip


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder first (it must start before Home Assistant does), then ThingBridge."""


async def test_a_trip_made_while_the_register_was_unloaded(hass: HomeAssistant) -> None:
    start = (dt_util.utcnow() - timedelta(hours=1)).replace(microsecond=0)
    await setup_zones(hass)
    send(hass, start, YARD)
    entry = await add_register(hass)
    van = await add_asset(hass, entry, name="Van 7", source=SOURCE)
    for i in range(1, 19):  # parked three minutes
        send(hass, start + timedelta(seconds=10 * i), YARD)
        await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)

    # the van drives to customer A and parks there while the register is not loaded
    steps = round(vincenty(YARD, CUSTOMER_A) * 1000 / 100)
    when = start + timedelta(seconds=180)
    for i in range(1, steps + 1):
        when += timedelta(seconds=10)
        point = (
            YARD[0] + (CUSTOMER_A[0] - YARD[0]) * i / steps,
            YARD[1] + (CUSTOMER_A[1] - YARD[1]) * i / steps,
        )
        send(hass, when, point)
        await hass.async_block_till_done()
    for _ in range(30):
        when += timedelta(seconds=10)
        send(hass, when, CUSTOMER_A)
        await hass.async_block_till_done()
    await async_wait_recording_done(hass)

    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    (trip,) = entry.runtime_data.assets[van].trips
    assert trip.distance_m == pytest.approx(vincenty(YARD, CUSTOMER_A) * 1000, rel=0.02)
    assert hass.states.get("sensor.van_7_trips_today").state == "1"

    # the raw fixes are the recorder's: the trips can be detected again from them
    asset = entry.runtime_data.assets[van]
    asset.trips.clear()  # as if they had been lost
    day = {"start": (start - timedelta(hours=1)).isoformat(), "end": dt_util.now().isoformat()}
    response = await hass.services.async_call(
        DOMAIN, "recompute_trips", {"asset": "VAN-0001", **day},
        blocking=True, return_response=True,
    )  # fmt: skip
    assert response is not None
    assert response["removed"] == 0
    assert response["fixes"] >= steps + 48
    assert [t["distance_m"] for t in response["trips"]] == [round(trip.distance_m, 1)]
    assert asset.trips == [trip]
    # refusals: an asset without a source of its own, a range backwards
    await add_asset(hass, entry, name="Drill", category="tool", parent=van)
    for data, key in (
        ({"asset": "VAN-0002", **day}, "asset_without_source"),
        ({"asset": "VAN-0001", "start": day["end"], "end": day["start"]}, "bad_date_range"),
    ):
        with pytest.raises(ServiceValidationError) as caught:
            await hass.services.async_call(DOMAIN, "recompute_trips", data, blocking=True)
        assert caught.value.translation_key == key
