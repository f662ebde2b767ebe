"""An asset on a ThingBridge GPS tracker reads its trips back from the tracker's journal.

No recorder here: what the tracker sent while the register was not loaded exists only in the
gateway's position journal (a simulated Teltonika over real TCP writes it), which the tracker
pillar offers through :mod:`custom_components.thingbridge.position_sources`.
"""

from __future__ import annotations

from datetime import timedelta
import itertools

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from homeassistant.util.location import vincenty
import pytest

from custom_components.thingbridge.const import DOMAIN
from custom_components.thingbridge.position_sources import async_get_position_history
from tests.bridges.assets.support import CUSTOMER_A, add_asset, add_register, setup_zones
from tests.tracker_support import (
    IDS,
    entity_id,
    gateway_entry,
    setup_gateway,
    virtual_tracker,
    wait_for,
)

IMEI = IDS["teltonika"]
YARD = (52.5210, 13.4050)


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of the test's own: the gateway's journal is written there."""
    return hass_tmp_config_dir


def leg() -> list[tuple[float, float]]:
    """100 m every fix from the yard to customer A, then parked there for 30 fixes."""
    steps = round(vincenty(YARD, CUSTOMER_A) * 1000 / 100)
    return [
        (
            round(YARD[0] + (CUSTOMER_A[0] - YARD[0]) * i / steps, 6),
            round(YARD[1] + (CUSTOMER_A[1] - YARD[1]) * i / steps, 6),
        )
        for i in range(1, steps + 1)
    ] + [CUSTOMER_A] * 30


@pytest.mark.usefixtures("socket_enabled")
async def test_a_trip_driven_while_the_register_was_unloaded_comes_from_the_journal(
    hass: HomeAssistant,
) -> None:
    assert "recorder" not in hass.config.components  # the journal is the only history
    await setup_zones(hass)
    runtime = await setup_gateway(
        hass, gateway_entry([("teltonika", IMEI, "Van tracker")], protocols=("teltonika",))
    )
    location = entity_id(hass, "device_tracker", "teltonika", IMEI, "location")
    assert async_get_position_history(hass, location) is not None
    assert async_get_position_history(hass, "device_tracker.someone_else") is None
    register = await add_register(hass)
    van = await add_asset(hass, register, name="Van 7", source=location)
    start = (dt_util.utcnow() - timedelta(hours=1)).replace(microsecond=0)
    route = leg()
    tracker = virtual_tracker(
        runtime, "teltonika", [YARD] * 6 + route, start=start, interval=10, batch=4
    )
    later = [tracker.pending.pop() for _ in route][::-1]  # recorded, sent after the unload
    # parked in the yard for a minute, seen live
    await tracker.run()
    await wait_for(
        hass,
        lambda: (
            (position := register.runtime_data.assets[van].position) is not None
            and position.time == tracker.acked[-1].time
        ),
        "the asset in the yard",
    )
    assert register.runtime_data.assets[van].trips == []
    live = register.runtime_data.assets[van].position
    assert live is not None
    # the journal's record of the fix seen live is the same fix (time and place): it counts once
    history = async_get_position_history(hass, location)
    assert history is not None
    (stored,) = await history(live.time, live.time + timedelta(seconds=1), 10)
    assert (stored.time, stored.latitude, stored.longitude) == (
        live.time, live.latitude, live.longitude,
    )  # fmt: skip
    assert await hass.config_entries.async_unload(register.entry_id)

    # the van drives to customer A while the register is not loaded
    tracker.pending.extend(later)
    await tracker.run()
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(register.entry_id)
    await hass.async_block_till_done()

    asset = register.runtime_data.assets[van]
    (trip,) = asset.trips
    path = [YARD, *route]
    assert trip.distance_m == pytest.approx(
        sum(vincenty(a, b) * 1000 for a, b in itertools.pairwise(path)), rel=0.02
    )
    assert trip.start == start + timedelta(seconds=50)  # the last parked fix, device time
    assert hass.states.get("sensor.van_7_trips_today").state == "1"
    assert asset.position is not None
    assert (asset.position.latitude, asset.position.longitude) == CUSTOMER_A

    # the raw fixes are the journal's: the trips can be detected again from them
    asset.trips.clear()  # as if they had been lost
    day = {"start": (start - timedelta(hours=1)).isoformat(), "end": dt_util.now().isoformat()}
    response = await hass.services.async_call(
        DOMAIN, "recompute_trips", {"asset": "VAN-0001", **day},
        blocking=True, return_response=True,
    )  # fmt: skip
    assert response is not None
    assert response["fixes"] == 6 + len(route)  # every record once
    assert response["removed"] == 0
    assert [t["distance_m"] for t in response["trips"]] == [round(trip.distance_m, 1)]
    assert asset.trips == [trip]


@pytest.mark.usefixtures("socket_enabled")
async def test_the_journal_history_is_paged_and_bounded(hass: HomeAssistant) -> None:
    """More records than a page, read across pages each once; ``limit`` and ``end`` cut."""
    runtime = await setup_gateway(
        hass, gateway_entry([("teltonika", IMEI, "Van tracker")], protocols=("teltonika",))
    )
    location = entity_id(hass, "device_tracker", "teltonika", IMEI, "location")
    start = (dt_util.utcnow() - timedelta(hours=6)).replace(microsecond=0)
    route = [(52.5 + i * 1e-5, 13.4) for i in range(1203)]
    tracker = virtual_tracker(runtime, "teltonika", route, start=start, interval=1, batch=200)
    await tracker.run(give_up_after=120)
    history = async_get_position_history(hass, location)
    assert history is not None

    fixes = await history(start, None, 100_000)
    assert [f.time for f in fixes] == [start + timedelta(seconds=i) for i in range(1203)]
    assert [(f.latitude, f.longitude) for f in fixes] == [fix[:2] for fix in tracker_points(route)]
    assert len({f.key for f in fixes}) == 1203

    some = await history(start + timedelta(seconds=10), start + timedelta(seconds=1010), 600)
    assert [f.time for f in some] == [start + timedelta(seconds=10 + i) for i in range(600)]
    window = await history(start + timedelta(seconds=990), start + timedelta(seconds=1010), 600)
    assert [f.time for f in window] == [start + timedelta(seconds=990 + i) for i in range(20)]

    # the gateway entry unloaded: nobody offers the tracker's history any more
    assert await hass.config_entries.async_unload(runtime.entry.entry_id)
    assert async_get_position_history(hass, location) is None


def tracker_points(route: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The route as the tracker sends it (Teltonika: 1e-7 degrees)."""
    return [(round(lat, 7), round(lon, 7)) for lat, lon in route]


@pytest.mark.usefixtures("socket_enabled")
async def test_the_journal_is_read_when_the_gateway_starts_after_the_register(
    hass: HomeAssistant,
) -> None:
    """Entries start in no set order: a provider that comes later is replayed from then."""
    await setup_zones(hass)
    runtime = await setup_gateway(
        hass, gateway_entry([("teltonika", IMEI, "Van tracker")], protocols=("teltonika",))
    )
    gateway = runtime.entry
    location = entity_id(hass, "device_tracker", "teltonika", IMEI, "location")
    register = await add_register(hass)
    van = await add_asset(hass, register, name="Van 7", source=location)
    start = (dt_util.utcnow() - timedelta(hours=1)).replace(microsecond=0)
    route = leg()
    tracker = virtual_tracker(
        runtime, "teltonika", [YARD] * 6 + route, start=start, interval=10, batch=4
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

    # Home Assistant restarts; the register happens to start before the gateway
    assert await hass.config_entries.async_unload(gateway.entry_id)
    assert await hass.config_entries.async_setup(register.entry_id)
    await hass.async_block_till_done()
    assert register.runtime_data.assets[van].trips == []  # no history to read yet
    assert await hass.config_entries.async_setup(gateway.entry_id)
    await hass.async_block_till_done()
    # the replay runs once the provider has registered: let it finish on a busy machine too
    await wait_for(hass, lambda: bool(register.runtime_data.assets[van].trips), "the replay")

    asset = register.runtime_data.assets[van]
    (trip,) = asset.trips
    assert trip.start == start + timedelta(seconds=50)
    assert trip.distance_m == pytest.approx(vincenty(YARD, CUSTOMER_A) * 1000, rel=0.02)
    assert asset.position is not None
    assert (asset.position.latitude, asset.position.longitude) == CUSTOMER_A
