"""Home Assistant core ``modbus:`` YAML to Thing Descriptions (``convert-modbus-yaml``)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
import io
import json
import math
from pathlib import Path
import struct
from typing import Any

import jsonschema
import pytest

from custom_components.thingbridge.wot import (
    ModbusThingClient,
    open_unit,
    parse_td,
    thing_endpoint,
)
from custom_components.thingbridge.wot.__main__ import EXIT_OK, EXIT_REJECTED, main
from custom_components.thingbridge.wot.core_modbus_yaml import (
    MAX_ENTITIES,
    MAX_YAML_BYTES,
    ConversionError,
    convert_file,
    convert_modbus_yaml,
    parse_modbus_yaml,
)
from simulator.modbus import DEVICES, SimModbusDevice

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
TD_SCHEMA = jsonschema.Draft7Validator(
    json.loads((SCHEMAS / "td-json-schema-validation.json").read_text())
)

# In the style of Home Assistant's modbus documentation (configuration.yaml).
CONFIGURATION = """
homeassistant:
  name: Home
modbus:
  - name: meter_hub
    type: tcp
    host: 192.0.2.20
    port: 502
    timeout: 5
    delay: 1
    sensors:
      - name: Total power
        address: 52
        input_type: input
        data_type: float32
        unit_of_measurement: W
        device_class: power
        scan_interval: 5
      - name: Import energy
        unique_id: meter_import
        address: 0x48
        input_type: input
        data_type: float32
        unit_of_measurement: kWh
        state_class: total_increasing
        precision: 2
      - name: EM24 voltage
        address: 0
        slave: 2
        input_type: input
        data_type: int32
        swap: word
        scale: 0.1
        unit_of_measurement: V
      - name: Inverter state
        address: 100
        data_type: uint16
        nan_value: 0xFFFF
      - name: Serial
        address: 200
        data_type: string
        count: 8
      - name: Phase voltage
        address: 10
        data_type: int16
        virtual_count: 2
        scale: 0.1
        offset: -1
        unit_of_measurement: V
      - name: Packed
        address: 20
        data_type: custom
        structure: ">hh"
        count: 2
      - name: Half
        address: 30
        data_type: float16
    binary_sensors:
      - name: Alarm
        address: 3
        input_type: discrete_input
      - name: Running
        address: 4
        input_type: holding
        device_class: running
    switches:
      - name: Relay
        address: 5
        write_type: coil
        verify:
      - name: Pump
        address: 6
        write_type: holding
        command_on: 0xFF00
        command_off: 0
        verify:
          address: 7
          input_type: input
          state_on: [0xFF00, 1]
      - name: Blind
        address: 8
    climates:
      - name: Heat pump
        address: 100
        target_temp_register: 101
"""


def _convert(text: str) -> list[dict[str, Any]]:
    return [thing.as_dict("x.yaml") for thing in convert_modbus_yaml(parse_modbus_yaml(text))]


def _form(td: dict[str, Any], name: str, index: int = 0) -> dict[str, Any]:
    form: dict[str, Any] = td["properties"][name]["forms"][index]
    return form


def test_configuration_yaml_becomes_one_td_per_unit() -> None:
    first, second = _convert(CONFIGURATION)
    assert (first["hub"], first["unit_id"], second["unit_id"]) == ("meter_hub", 1, 2)
    td = first["td"]
    assert td["title"] == "meter_hub unit 1"
    assert second["td"]["title"] == "meter_hub unit 2"
    assert set(td["properties"]) == {
        "total_power",
        "meter_import",
        "inverter_state",
        "serial",
        "phase_voltage",
        "phase_voltage_1",
        "phase_voltage_2",
        "alarm",
        "running",
        "relay",
        "pump",
        "blind",
    }
    assert _form(td, "total_power") == {
        "href": "modbus+tcp://192.0.2.20:502/1/52?quantity=2",
        "op": ["readproperty"],
        "contentType": "application/octet-stream",
        "modv:entity": "InputRegister",
        "modv:type": "xsd:float",
        "modv:timeout": 5000,
        "modv:mostSignificantByte": True,
        "modv:mostSignificantWord": True,
        "modv:pollingTime": 5000,
    }
    assert td["properties"]["total_power"]["unit"] == "W"
    assert _form(td, "meter_import")["href"].endswith("/1/72?quantity=2")
    assert _form(td, "inverter_state")["tbm:notAvailable"] == [0xFFFF]
    assert _form(td, "inverter_state")["modv:entity"] == "HoldingRegister"
    assert td["properties"]["inverter_state"]["type"] == "integer"
    assert _form(td, "serial")["modv:type"] == "xsd:string"
    assert _form(td, "serial")["href"].endswith("/200?quantity=8")
    # virtual_count: the following registers, same type and shaping
    assert [
        _form(td, n)["href"].rsplit("/", 1)[1]
        for n in ("phase_voltage", "phase_voltage_1", "phase_voltage_2")
    ] == ["10?quantity=1", "11?quantity=1", "12?quantity=1"]
    assert td["properties"]["phase_voltage_2"]["title"] == "Phase voltage 2"
    assert (
        _form(td, "phase_voltage_2")["tbm:scale"],
        _form(td, "phase_voltage_2")["tbm:offset"],
    ) == (
        0.1,
        -1.0,
    )
    em24 = second["td"]["properties"]["em24_voltage"]
    assert em24["forms"][0]["modv:mostSignificantWord"] is False
    assert em24["forms"][0]["tbm:scale"] == 0.1
    assert em24["type"] == "number"
    # binary sensors: a discrete input, and bit 0 of a holding register
    assert _form(td, "alarm")["modv:entity"] == "DiscreteInput"
    assert (_form(td, "running")["tbm:bitOffset"], _form(td, "running")["tbm:bitLength"]) == (0, 1)
    # switches
    relay = td["properties"]["relay"]
    assert relay["type"] == "boolean"
    assert [f["op"] for f in relay["forms"]] == [["readproperty"], ["writeproperty"]]
    assert relay["forms"][1]["modv:function"] == "writeSingleCoil"
    pump = td["properties"]["pump"]
    assert (pump["type"], pump["enum"]) == ("integer", [0, 0xFF00])
    assert pump["forms"][0]["modv:entity"] == "InputRegister"
    assert pump["forms"][0]["href"].endswith("/1/7?quantity=1")
    blind = td["properties"]["blind"]
    assert blind["writeOnly"] is True
    assert [f["op"] for f in blind["forms"]] == [["writeproperty"]]


def test_unsupported_keys_are_listed_not_guessed() -> None:
    first, second = _convert(CONFIGURATION)
    unsupported = first["unsupported"]
    assert second["unsupported"] == []
    expected = [
        "$.modbus[0].delay: not converted",
        "$.modbus[0].climates: 1 climates not converted",
        "$.modbus[0].sensors[0].device_class: not converted",
        "$.modbus[0].sensors[1].state_class: not converted",
        "$.modbus[0].sensors[1].precision: not converted (a display setting",
        "$.modbus[0].sensors[6].structure: not converted",
        "$.modbus[0].sensors[6].data_type: 'custom' is not converted",
        "$.modbus[0].sensors[7].data_type: 'float16' is not converted",
        "$.modbus[0].binary_sensors[1].device_class: not converted",
        "$.modbus[0].switches[1].verify: state_on [65280, 1] / state_off [0]: only the commands",
    ]
    for start in expected:
        assert any(item.startswith(start) for item in unsupported), start
    assert len(unsupported) == len(expected)


def test_generated_tds_validate_and_parse_with_the_binding() -> None:
    for line in _convert(CONFIGURATION):
        td = line["td"]
        assert [e.message for e in TD_SCHEMA.iter_errors(td)] == []
        parsed = parse_td(td)
        assert parsed.skipped == ()
        for prop in parsed.properties.values():
            assert all(form.modbus is not None for form in prop.forms)
    pump = parse_td(_convert(CONFIGURATION)[0]["td"]).properties["pump"]
    assert pump.readable
    assert pump.writable


@pytest.mark.parametrize(
    ("hub", "href", "terms"),
    [
        (
            {"type": "rtuovertcp", "host": "gw.local", "port": 8899},
            "modbus+tcp://gw.local:8899/1/0?quantity=1",
            {"tbm:framing": "rtu-over-tcp"},
        ),
        (
            {"type": "tcp", "host": "fd00::5", "port": 502},
            "modbus+tcp://[fd00::5]:502/1/0?quantity=1",
            {},
        ),
        (
            {
                "type": "serial",
                "port": "/dev/ttyUSB0",
                "baudrate": 9600,
                "bytesize": 8,
                "method": "rtu",
                "parity": "E",
                "stopbits": 1,
            },
            "modbus+rtu:///dev/ttyUSB0/1/0?quantity=1",
            {
                "tbm:framing": "rtu",
                "tbm:baudrate": 9600,
                "tbm:parity": "E",
                "tbm:stopbits": 1,
                "tbm:bytesize": 8,
            },
        ),
    ],
)
def test_hub_types(hub: dict[str, Any], href: str, terms: dict[str, Any]) -> None:
    document = {"name": "h", **hub, "sensors": [{"name": "s", "address": 0}]}
    [line] = [t.as_dict("x") for t in convert_modbus_yaml(document)]
    assert line["unsupported"] == []
    form = line["td"]["properties"]["s"]["forms"][0]
    assert form["href"] == href
    assert {k: v for k, v in form.items() if k.startswith("tbm:")} == terms
    parsed = parse_td(line["td"]).properties["s"].forms[0].modbus
    assert parsed is not None
    assert parsed.link.framing == terms.get("tbm:framing", "tcp")


@pytest.mark.parametrize(
    ("hub", "reason"),
    [
        ({"type": "udp", "host": "h", "port": 502}, "udp hubs are not converted"),
        ({"type": "serial", "port": "/dev/ttyS0", "method": "ascii"}, "'ascii' is not converted"),
        ({"type": "tcp", "port": 502}, "a tcp hub needs host and port"),
        ({"type": "carrier-pigeon"}, "'carrier-pigeon' is not a hub type"),
    ],
)
def test_hubs_that_cannot_be_converted(hub: dict[str, Any], reason: str) -> None:
    [line] = [t.as_dict("x") for t in convert_modbus_yaml({"name": "h", **hub, "sensors": []})]
    assert line["td"] is None
    assert any(reason in item for item in line["unsupported"])


def test_secrets_are_not_resolved() -> None:
    text = "modbus:\n  - name: h\n    type: tcp\n    host: !secret modbus_host\n    port: 502\n"
    [line] = _convert(text)
    assert line["td"] is None
    assert line["unsupported"] == [
        (
            "$.modbus[0].host: !secret values are not read by the converter; write the value "
            "in the file you convert"
        )
    ]


def test_hostile_yaml(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("#" * (MAX_YAML_BYTES + 1))
    with pytest.raises(ConversionError, match="byte limit"):
        convert_file(big)
    with pytest.raises(ConversionError, match="not YAML"):
        parse_modbus_yaml("modbus: [")
    with pytest.raises(ConversionError, match=r"nested too deeply|not YAML"):
        parse_modbus_yaml("[" * 50_000 + "]" * 50_000)
    with pytest.raises(ConversionError, match="expected a modbus: block"):
        convert_modbus_yaml(parse_modbus_yaml("modbus: 3"))
    # An alias bomb: 64 hubs share one list of 100 sensors of 256 values each (1.6 million
    # properties if expanded): the entity budget stops it, each unit keeps at most 256.
    sensors = ", ".join(["*s"] * 100)
    text = (
        "x: &s {name: x, address: 1, virtual_count: 255}\n"
        f"y: &l [{sensors}]\n"
        "z: &h {name: h, type: tcp, host: h, port: 502, sensors: *l}\n"
        f"modbus: [{', '.join(['*h'] * 64)}]\n"
    )
    things = convert_modbus_yaml(parse_modbus_yaml(text))
    notes = [item for thing in things for item in thing.unsupported]
    assert sum(f"more than {MAX_ENTITIES} entities" in item for item in notes) == 1
    assert all(len(t.td["properties"]) <= 256 for t in things if t.td is not None)
    assert sum(len(t.td["properties"]) for t in things if t.td is not None) <= MAX_ENTITIES
    assert len(notes) < 200


def test_cli(tmp_path: Path) -> None:
    path = tmp_path / "configuration.yaml"
    path.write_text(CONFIGURATION)
    out = io.StringIO()
    assert main(["convert-modbus-yaml", str(path)], out=out) == EXIT_REJECTED
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["hub"], line["unit_id"]) for line in lines] == [
        ("meter_hub", 1),
        ("meter_hub", 2),
    ]
    clean = tmp_path / "clean.yaml"
    clean.write_text("- {name: h, type: tcp, host: h, port: 502, sensors: [{name: s, address: 1}]}")
    out = io.StringIO()
    assert main(["convert-modbus-yaml", str(clean), str(tmp_path / "none.yaml")], out=out) == 2
    ok, missing = (json.loads(line) for line in out.getvalue().splitlines())
    assert ok["unsupported"] == []
    assert missing["error"] == "$: cannot read the file: No such file or directory"
    out = io.StringIO()
    assert main(["convert-modbus-yaml", str(clean)], out=out) == EXIT_OK


@pytest.fixture
async def started(socket_enabled: None) -> AsyncGenerator[list[SimModbusDevice]]:
    devices: list[SimModbusDevice] = []
    yield devices
    for device in devices:
        await device.stop()


async def test_converted_yaml_reads_the_simulated_meters(started: list[SimModbusDevice]) -> None:
    """Core YAML for the simulated SDM630 and EM24, converted, reads the same values."""
    sdm, em24 = (
        SimModbusDevice("sdm630", DEVICES["sdm630"]),
        SimModbusDevice("em24", DEVICES["em24"]),
    )
    for device in (sdm, em24):
        device.frozen = True
        await device.start("127.0.0.1", 0)
        started.append(device)
    text = f"""
modbus:
  - name: sdm630
    type: tcp
    host: 127.0.0.1
    port: {sdm.port}
    sensors:
      - {{name: Total power, address: 52, input_type: input, data_type: float32, unit_of_measurement: W}}
      - {{name: Frequency, address: 70, input_type: input, data_type: float32, unit_of_measurement: Hz}}
      - {{name: Import, address: 72, input_type: input, data_type: float32, unit_of_measurement: kWh}}
  - name: em24
    type: tcp
    host: 127.0.0.1
    port: {em24.port}
    sensors:
      - {{name: L1 voltage, address: 0, input_type: input, data_type: int32, swap: word, scale: 0.1}}
      - {{name: L1 current, address: 12, input_type: input, data_type: int32, swap: word, scale: 0.001}}
      - {{name: Power factor, address: 49, input_type: input, data_type: int16, scale: 0.001}}
"""
    values: dict[str, Any] = {}
    for thing in convert_modbus_yaml(parse_modbus_yaml(text)):
        assert thing.unsupported == []
        assert thing.td is not None
        td = parse_td(thing.td)
        link, unit_id = thing_endpoint(td)
        async with open_unit(link, unit_id, request_timeout=2.0) as unit:
            result = await ModbusThingClient(td, unit).read_all()
        assert result.errors == {}
        values[thing.hub] = result.values

    def f32(address: int) -> float:
        table = sdm.tables.input
        (value,) = struct.unpack(">f", struct.pack(">HH", table[address], table[address + 1]))
        return float(value)

    assert math.isclose(values["sdm630"]["total_power"], f32(52), rel_tol=1e-6)
    assert math.isclose(values["sdm630"]["frequency"], f32(70), rel_tol=1e-6)
    assert math.isclose(values["sdm630"]["import"], f32(72), rel_tol=1e-6)
    assert values["em24"] == pytest.approx(
        {"l1_voltage": 230.0, "l1_current": 5.0, "power_factor": 0.95}
    )


BROKEN_ENTITIES = """
modbus:
  - name: odd_hub
    type: tcp
    host: 192.0.2.30
    port: 502
    sensors:
      - just a string
      - name: No address
        address: seventy
      - name: Text without count
        address: 10
        data_type: string
      - name: Wrong count
        address: 12
        data_type: float32
        count: 3
      - name: Half float
        address: 14
        data_type: float16
      - name: Too many copies
        address: 16
        virtual_count: 100000
      - name: Bad copies
        address: 18
        virtual_count: many
      - name: Odd key
        address: 20
        colour: blue
      - name: Secret scale
        address: 22
        scale: !secret meter_scale
    binary_sensors:
      - 42
      - name: No address either
        address: -1
    switches:
      - name: Bad write type
        address: 30
        write_type: telepathy
"""


def test_broken_entities_are_listed_with_their_paths_and_nothing_is_guessed() -> None:
    things = convert_modbus_yaml(parse_modbus_yaml(BROKEN_ENTITIES))
    issues = [issue for thing in things for issue in thing.unsupported]
    text = "\n".join(issues)
    for expected in (
        "sensors[0]: expected a sensor",
        "sensors[1].address: 'seventy' is not a register address",
        "sensors[2].count: a string sensor needs a count",
        "sensors[3].count: 3 registers do not fit float32",
        "sensors[4].data_type: 'float16' is not converted (no half-precision float",
        "sensors[5].virtual_count: 100000 >",
        "sensors[6].virtual_count: 'many' is not a count",
        "sensors[7].colour: not a key of a core modbus sensor",
        "sensors[8].scale: !secret values are not read",
        "binary_sensors[0]",
        "binary_sensors[1].address",
        "switches[0].write_type",
    ):
        assert expected in text, (expected, text)
    properties = {
        name for thing in things if thing.td is not None for name in thing.td["properties"]
    }
    # nothing made of the refused entities; the usable ones are converted
    assert not any(name.startswith(("no_address", "text_without", "wrong_count", "half_float"))
                   for name in properties)  # fmt: skip
    assert any(name.startswith("too_many_copies") for name in properties)
