"""A tracker journal that cannot be read: the register reads the recorder, and says so once."""

from __future__ import annotations

from datetime import timedelta
import logging

from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from homeassistant.util.location import vincenty
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.thingbridge.const import DOMAIN
from tests.bridges.assets.support import CUSTOMER_A, add_asset, add_register, setup_zones
from tests.bridges.assets.test_asset_journal_history import YARD, leg
from tests.tracker_support import (
    IDS,
    entity_id,
    gateway_entry,
    setup_gateway,
    virtual_tracker,
    wait_for,
)

IMEI = IDS["teltonika"]
FALLBACK = "not read from its source"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """The recorder first (it must start before Home Assistant does), then ThingBridge."""


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of the test's own: the gateway's journal is written there."""
    return hass_tmp_config_dir


@pytest.mark.usefixtures("socket_enabled")
async def test_a_journal_that_fails_falls_back_to_the_recorder(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    await setup_zones(hass)
    runtime = await setup_gateway(
        hass, gateway_entry([("teltonika", IMEI, "Van tracker")], protocols=("teltonika",))
    )
    location = entity_id(hass, "device_tracker", "teltonika", IMEI, "location")
    register = await add_register(hass)
    van = await add_asset(hass, register, name="Van 7", source=location)
    start = (dt_util.utcnow() - timedelta(hours=1)).replace(microsecond=0)
    route = leg()
    tracker = virtual_tracker(
        runtime, "teltonika", [YARD] * 6 + route, start=start, interval=10, batch=1
    )
    later = [tracker.pending.pop() for _ in route][::-1]
    await tracker.run()
    await wait_for(
        hass,
        lambda: (
            (position := register.runtime_data.assets[van].position) is not None
            and position.time == tracker.acked[-1].time
        ),
        "the asset in the yard",
    )
    assert await hass.config_entries.async_unload(register.entry_id)
    tracker.pending.extend(later)
    await tracker.run()
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    await runtime.journal.close()  # the journal can no longer be read

    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="custom_components.thingbridge"):
        assert await hass.config_entries.async_setup(register.entry_id)
        await hass.async_block_till_done()
        asset = register.runtime_data.assets[van]
        (trip,) = asset.trips  # from the recorder's states of the tracker
        assert trip.distance_m == pytest.approx(vincenty(YARD, CUSTOMER_A) * 1000, rel=0.02)

        asset.trips.clear()
        day = {"start": (start - timedelta(hours=1)).isoformat(), "end": dt_util.now().isoformat()}
        response = await hass.services.async_call(
            DOMAIN, "recompute_trips", {"asset": "VAN-0001", **day},
            blocking=True, return_response=True,
        )  # fmt: skip
    assert response is not None
    assert [t["distance_m"] for t in response["trips"]] == [round(trip.distance_m, 1)]
    fallbacks = [r for r in caplog.records if FALLBACK in r.getMessage()]
    assert [r.levelno for r in fallbacks] == [logging.WARNING, logging.DEBUG]
    assert location in fallbacks[0].getMessage()
    assert "not open" in fallbacks[0].getMessage()
