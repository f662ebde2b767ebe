"""Benchmark: requests per poll and poll duration of a full SDM630, ThingBridge beside core modbus.

One simulated Eastron SDM630 (``simulator/modbus.py``, values held still) on loopback; one real
Home Assistant (the test harness's instance) with both:

- **ThingBridge**: a Modbus device entry with the shipped ``eastron-sdm630`` profile and every
  optional register group chosen (the whole published map); a poll is one refresh of its
  coordinator (every due property, read as one plan through ``async_get_unit``: the profile
  polls the meter's settings hourly and its serial number daily, ``modv:pollingTime``, and
  reads at most 80 registers a request, ``tbm:maxSpan``, as Eastron's meters require); its
  "every property" poll (the first one, and once an hour) is measured too;
- **core modbus**: Home Assistant's own modbus integration configured in YAML with one sensor
  per register of the same profile (same addresses, tables and types), each with a long
  ``scan_interval``; a poll is one ``homeassistant.update_entity`` of all of them (what each
  sensor's own timer does once per scan interval), and, for the same schedule, one of only
  the sensors of the registers ThingBridge polls every time.

Requests are counted by the simulator (server side). The rounds alternate the two; medians.

    .venv/bin/python -m bench.modbus_poll [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from typing import Any

from homeassistant import loader
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

import custom_components.thingbridge  # noqa: F401 - Home Assistant must find this package
from custom_components.thingbridge.bridges.wot.modbus import (
    ModbusThingCoordinator,
    profile_library,
    profile_td,
)
from custom_components.thingbridge.const import (
    CONF_CONNECTION,
    CONF_KIND,
    CONF_OPTIONAL,
    CONF_PROFILE,
    CONF_UNIT_ID,
    DOMAIN,
    KIND_MODBUS_DEVICE,
    MODBUS_TCP,
)
from custom_components.thingbridge.wot import ThingDescription
from simulator.modbus import DEVICES, SimModbusDevice

PROFILE = "eastron-sdm630"
# The value types core modbus has under the same names.
CORE_TYPES = frozenset(
    {"int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"}
)
CORE_TABLES = {"InputRegister": "input", "HoldingRegister": "holding"}


def core_sensors(td: ThingDescription) -> list[dict[str, Any]]:
    """One core modbus sensor per readable register property of ``td``."""
    sensors = []
    for name, prop in td.properties.items():
        form = next(
            (f.modbus for f in prop.forms_for("readproperty") if f.modbus is not None), None
        )
        if form is None or form.entity not in CORE_TABLES or form.value_type not in CORE_TYPES:
            continue
        sensor = {
            "name": f"core {name}",
            "unique_id": f"core_{name}",
            "address": form.address,
            "input_type": CORE_TABLES[form.entity],
            "data_type": form.value_type,
            "device_address": form.unit_id,
            "scan_interval": 3600,
        }
        if not form.most_significant_word:
            sensor["swap"] = "word"
        sensors.append(sensor)
    return sensors


async def _hass(config_dir: str) -> tuple[Any, HomeAssistant]:
    context = async_test_home_assistant(config_dir=config_dir)
    hass: HomeAssistant = await context.__aenter__()
    hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # let custom integrations load
    frame.async_setup(hass)  # as the test harness's fixture does (core modbus reports through it)
    return context, hass


async def _core_modbus(hass: HomeAssistant, td: ThingDescription, port: int) -> list[str]:
    """Core modbus in YAML, one sensor per register of ``td``; its sensors' entity IDs."""
    sensors = core_sensors(td)
    hub = {
        "name": "bench",
        "type": "tcp",
        "host": "127.0.0.1",
        "port": port,
        "timeout": 5,
        "delay": 0,
        "sensors": sensors,
    }
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "modbus", {"modbus": [hub]})
    await hass.async_block_till_done()
    core_ids: list[str] = []
    for _ in range(100):  # the hub connects and adds its sensors in the background
        core_ids = [
            state.entity_id
            for state in hass.states.async_all("sensor")
            if state.entity_id.startswith("sensor.core_")
        ]
        if len(core_ids) == len(sensors):
            break
        await asyncio.sleep(0.1)
    assert len(core_ids) == len(sensors), (len(core_ids), len(sensors))

    return core_ids


async def _thingbridge(
    hass: HomeAssistant, port: int, optional: list[str]
) -> ModbusThingCoordinator:
    """ThingBridge's Modbus device entry for the same meter; its coordinator."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="SDM630",
        unique_id=f"127.0.0.1:{port}:1",
        data={
            CONF_KIND: KIND_MODBUS_DEVICE,
            CONF_CONNECTION: MODBUS_TCP,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: port,
            CONF_UNIT_ID: 1,
            CONF_PROFILE: PROFILE,
        },
        options={CONF_OPTIONAL: optional},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    (coordinator,) = entry.runtime_data.things.values()
    assert isinstance(coordinator, ModbusThingCoordinator)
    return coordinator


async def run(rounds: int) -> None:
    """Set both up against one simulator; alternate their polls; print medians."""
    logging.basicConfig(level=logging.WARNING)
    sim = SimModbusDevice("sdm630", DEVICES["sdm630"])
    sim.frozen = True
    await sim.start()
    with tempfile.TemporaryDirectory() as config_dir:
        context, hass = await _hass(config_dir)
        try:
            library = await hass.async_add_executor_job(profile_library, config_dir)
            optional = sorted(
                name for _kind, name in library.get(PROFILE).optional_affordances().values()
            )
            values = {"HOST": "127.0.0.1", "PORT": sim.port, "UNIT_ID": 1}
            td = await hass.async_add_executor_job(
                profile_td, PROFILE, config_dir, values, optional
            )
            core_ids = await _core_modbus(hass, td, sim.port)
            coordinator = await _thingbridge(hass, sim.port, optional)

            # Core sensors of the registers ThingBridge polls at every poll (not the settings
            # and serial number its profile polls hourly and daily).
            slow = {
                name
                for name, prop in td.properties.items()
                if any(f.modbus and f.modbus.polling_ms for f in prop.forms)
            }
            core_fast = [
                entity_id
                for entity_id in core_ids
                if entity_id.removeprefix("sensor.core_") not in slow
            ]
            runs: dict[str, tuple[list[int], list[float]]] = {
                key: ([], []) for key in ("tb", "tb_all", "core", "core_fast")
            }

            async def measure(key: str, poll: Any) -> None:
                before, start = sim.requests, time.perf_counter()
                await poll()
                runs[key][1].append(time.perf_counter() - start)
                runs[key][0].append(sim.requests - before)

            async def update(entity_ids: list[str]) -> None:
                await hass.services.async_call(
                    "homeassistant", "update_entity", {"entity_id": entity_ids}, blocking=True
                )

            for _ in range(rounds):
                await measure("tb", coordinator.async_refresh)
                assert coordinator.last_update_success
                assert not coordinator.unavailable_properties
                await measure("core", lambda: update(core_ids))
                await measure("tb_all", lambda: coordinator.modbus.read_all(everything=True))
                await measure("core_fast", lambda: update(core_fast))

            readable = len(coordinator.modbus.readable)
            print(
                f"SDM630 profile: {readable} readable properties ({len(slow)} polled hourly or"
                f" daily); core modbus: {len(core_ids)} sensors"
            )
            print(f"rounds: {rounds} (interleaved), medians")
            print(f"{'':52s} {'requests/poll':>14s} {'poll duration':>14s}")
            medians = {
                key: (statistics.median(reqs), statistics.median(secs))
                for key, (reqs, secs) in runs.items()
            }
            labels = {
                "tb": "ThingBridge, a poll (settings not due)",
                "tb_all": "ThingBridge, every property (first poll, daily)",
                "core": "core modbus (YAML, one request per entity)",
                "core_fast": "core modbus, without the settings' sensors",
            }
            for key, label in labels.items():
                reqs, secs = medians[key]
                print(f"{label:52s} {reqs:14.0f} {secs * 1e3:11.1f} ms")
            for key, versus in (("core", "tb"), ("core_fast", "tb"), ("core", "tb_all")):
                (c_r, c_s), (t_r, t_s) = medians[key], medians[versus]
                print(
                    f"{key} / {versus}: {c_r / t_r:.1f}x as many requests,"
                    f" {c_s / t_s:.1f}x as long a poll"
                )
            print("target: core / tb >= 20x as many requests per poll")
        finally:
            await hass.async_stop(force=True)
            await context.__aexit__(None, None, None)
            await sim.stop()


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=30, help="polls of each (default 30)")
    args = parser.parse_args()
    asyncio.run(run(args.rounds))


if __name__ == "__main__":
    main()
