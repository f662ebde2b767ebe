"""The ``read`` command as a real subprocess: shipped Thing Models, TDs, HTTP, bad sources."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
import contextlib
import io
import json
import os
from pathlib import Path
import struct
import subprocess
import sys
from typing import Any

import pytest

from custom_components.thingbridge.wot import __main__ as wot_main
from custom_components.thingbridge.wot.read_tool import run_read
from simulator.modbus import DEVICES, SimModbusDevice
from simulator.wot import WotSimulator, make_lamp, make_sensor

REPO = Path(__file__).resolve().parents[3]
WAIT = 60.0  # a guard against hangs, never an assertion about speed


async def read(*args: str) -> tuple[int, dict[str, Any] | None, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "custom_components.thingbridge.wot",
        "read",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    out, err = await asyncio.wait_for(process.communicate(), WAIT)
    assert process.returncode is not None
    lines = out.decode().splitlines()
    assert len(lines) <= 1
    return process.returncode, json.loads(lines[0]) if lines else None, err.decode()


async def read_in_process(*args: str) -> tuple[int, dict[str, Any] | None, str]:
    """The same command run in this process (the one above shows the real command line)."""
    out, err = io.StringIO(), io.StringIO()
    parsed = wot_main._parser().parse_args(["read", *args])
    with contextlib.redirect_stderr(err):
        status = await asyncio.wait_for(run_read(parsed, out), WAIT)
    lines = out.getvalue().splitlines()
    assert len(lines) <= 1
    return status, json.loads(lines[0]) if lines else None, err.getvalue()


@pytest.fixture
async def devices(socket_enabled: None) -> AsyncGenerator[dict[str, SimModbusDevice]]:
    started = {}
    for name in ("sdm630", "em24", "refusing"):
        device = SimModbusDevice(name, DEVICES[name])
        device.frozen = True
        await device.start("127.0.0.1", 0)
        started[name] = device
    yield started
    for device in started.values():
        await device.stop()


def _set(device: SimModbusDevice) -> list[str]:
    return ["--set", "HOST=127.0.0.1", "--set", f"PORT={device.port}", "--set", "UNIT_ID=1"]


def _float(table: dict[int, int], address: int) -> float:
    return float(struct.unpack(">f", struct.pack(">HH", table[address], table[address + 1]))[0])


async def test_read_shipped_sdm630_profile(devices: dict[str, SimModbusDevice]) -> None:
    meter = devices["sdm630"]
    status, line, err = await read("eastron-sdm630", *_set(meter))
    assert status == 0, err
    assert line is not None
    assert list(line) == ["title", "values", "errors"]
    assert line["errors"] == {}
    values = line["values"]
    assert values["voltage_l1"] == pytest.approx(_float(meter.tables.input, 0x00))
    assert values["active_power_total"] == pytest.approx(_float(meter.tables.input, 0x34))
    assert values["import_energy"] == pytest.approx(_float(meter.tables.input, 0x48))
    # The whole profile (dozens of registers) in a handful of block reads.
    assert len(values) > 40
    assert meter.requests <= 6


async def test_read_shipped_em24_profile_by_file_name(
    devices: dict[str, SimModbusDevice],
) -> None:
    meter = devices["em24"]
    status, line, err = await read_in_process("carlo-gavazzi-em24.tm.json", *_set(meter))
    assert status == 0, err
    assert line is not None
    table = meter.tables.input
    raw = (table[0x29] << 16) | table[0x28]  # int32, low word first
    assert line["values"]["active_power_total"] == pytest.approx(raw / 10)


async def test_read_reports_refused_registers_per_property(
    devices: dict[str, SimModbusDevice],
) -> None:
    status, line, _ = await read_in_process("eastron-sdm630", *_set(devices["refusing"]))
    assert status == 1
    assert line is not None
    assert set(line["errors"]) == {
        "import_energy",
        "export_energy",
        "import_reactive_energy",
        "export_reactive_energy",
    }
    assert "illegal data address" in line["errors"]["import_energy"]
    assert "frequency" in line["values"]


async def test_read_http_thing(socket_enabled: None) -> None:
    sim = WotSimulator([make_lamp(), make_sensor()], tick_interval=3600)
    await sim.start("127.0.0.1", 0)
    try:
        slug = next(iter(sim.things))
        status, line, err = await read_in_process(sim.url_of(slug))
    finally:
        await sim.stop()
    assert status == 0, err
    assert line is not None
    assert line["values"]
    assert line["errors"] == {}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-profile"], "no-such-profile: no such file, and no shipped Thing Model"),
        (["eastron-sdm630"], "HOST"),  # a placeholder without a value is named
    ],
)
async def test_unusable_source_exits_2(args: list[str], message: str) -> None:
    status, line, err = await read_in_process(*args)
    assert status == 2
    assert line is None
    assert message in err
    assert args[0] in err


async def test_not_json_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "thing.td.json"
    bad.write_text("{not json")
    status, line, err = await read_in_process(str(bad))
    assert (status, line) == (2, None)
    assert str(bad) in err
    assert "not JSON" in err


async def test_simulator_process_serves_modbus(socket_enabled: None, tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "modbus",
        "--port-base",
        "0",
        "sdm630",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert process.stdout is not None
        banner = (await asyncio.wait_for(process.stdout.readline(), WAIT)).decode()
        assert banner.startswith("Modbus sdm630 (Eastron SDM630 meter): modbus+tcp://127.0.0.1:")
        base = banner.split(": ", 1)[1].strip()
        td = tmp_path / "sdm630.td.json"
        td.write_text(
            json.dumps(
                {
                    "title": "SDM630",
                    "base": base,
                    "properties": {
                        "frequency": {
                            "type": "number",
                            "readOnly": True,
                            "forms": [
                                {
                                    "href": "70?quantity=2",
                                    "modv:entity": "InputRegister",
                                    "modv:type": "xsd:float",
                                }
                            ],
                        }
                    },
                }
            )
        )
        status, line, err = await read(str(td))
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), WAIT)
    assert status == 0, err
    assert line is not None
    assert 49.9 < line["values"]["frequency"] < 50.1
