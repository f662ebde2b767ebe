"""An asset that follows a ThingBridge GPS tracker: a simulated Teltonika over real TCP.

The tracker's location entity carries each fix's device time, and its odometer is a sibling
sensor on the same device: the register finds it through the registries, nothing in it names
the tracker pillar.
"""

from __future__ import annotations

from datetime import timedelta
import itertools

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from homeassistant.util.location import vincenty
import pytest

from tests.bridges.assets.support import CUSTOMER_A, add_asset, add_register, setup_zones
from tests.tracker_support import (
    IDS,
    entity_id,
    gateway_entry,
    setup_gateway,
    state_of,
    virtual_tracker,
    wait_for,
)

IMEI = IDS["teltonika"]
YARD = (52.5210, 13.4050)


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of the test's own: the gateway's journal is written there."""
    return hass_tmp_config_dir


def _route() -> list[tuple[float, float]]:
    """Parked in the yard, 100 m every 10 s to customer A, parked there for 5 minutes."""
    steps = round(vincenty(YARD, CUSTOMER_A) * 1000 / 100)
    leg = [
        (
            round(YARD[0] + (CUSTOMER_A[0] - YARD[0]) * i / steps, 6),
            round(YARD[1] + (CUSTOMER_A[1] - YARD[1]) * i / steps, 6),
        )
        for i in range(1, steps + 1)
    ]
    return [YARD] * 6 + leg + [CUSTOMER_A] * 30


@pytest.mark.usefixtures("socket_enabled")
async def test_an_asset_follows_a_thingbridge_tracker(hass: HomeAssistant) -> None:
    await setup_zones(hass)
    runtime = await setup_gateway(
        hass, gateway_entry([("teltonika", IMEI, "Van tracker")], protocols=("teltonika",))
    )
    location = entity_id(hass, "device_tracker", "teltonika", IMEI, "location")
    odometer = entity_id(hass, "sensor", "teltonika", IMEI, "odometer")
    register = await add_register(hass)
    van = await add_asset(hass, register, name="Van 7", source=location)
    route = _route()
    start = (dt_util.utcnow() - timedelta(hours=1)).replace(microsecond=0)
    tracker = virtual_tracker(runtime, "teltonika", route, start=start, interval=10, batch=4)
    await tracker.run()
    asset = register.runtime_data.assets[van]
    await wait_for(
        hass,
        lambda: asset.position is not None and asset.position.time == tracker.acked[-1].time,
        "the asset at the tracker's last fix",
    )
    state = state_of(hass, "device_tracker.van_7")
    assert (state.attributes["latitude"], state.attributes["longitude"]) == CUSTOMER_A
    assert state.state == "Customer A"
    # one trip, timed by the device's clock (10 s a fix), as long as the route
    (trip,) = asset.trips
    leg_m = sum(vincenty(a, b) * 1000 for a, b in itertools.pairwise(route))
    assert trip.distance_m == pytest.approx(leg_m, rel=0.02)
    assert trip.start == start + timedelta(seconds=50)
    # the odometer is the tracker's own (a sibling sensor on its device)
    tracker_km = float(state_of(hass, odometer).state)
    assert float(state_of(hass, "sensor.van_7_odometer").state) == pytest.approx(tracker_km)
    assert asset.position.odometer_m == pytest.approx(tracker_km * 1000, abs=1)
