"""Registers entered by hand: checked, stored, and made into one TD from the generic model."""

from __future__ import annotations

from dataclasses import replace
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from custom_components.thingbridge.wot import (
    GENERIC_PROFILE,
    MAX_REGISTERS,
    SHIPPED_PROFILES,
    ProfileLibrary,
    Register,
    ThingModel,
    WotValidationError,
    parse_td,
    plan_thing,
    registers_td,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
TD_SCHEMA = jsonschema.Draft7Validator(
    json.loads((SCHEMAS / "td-json-schema-validation.json").read_text())
)
DEVICE = {"HOST": "192.0.2.10", "PORT": 502, "UNIT_ID": 7}
POWER = Register("power", "Power", "input_register", 52, "float32", unit="W")
ENERGY = Register(
    "import_energy", "Import energy", "holding_register", 300, "uint32", "little", 0.01, 0, "kWh"
)
LEVEL = Register(
    "pump_level",
    "Pump level",
    "holding_register",
    40,
    "int16",
    scale=0.5,
    offset=-10,
    writable=True,
)
RELAY = Register("relay", "Relay", "coil", 3, "boolean", writable=True)
ALARM = Register("alarm", "Alarm", "discrete_input", 9, "boolean")
BIG = Register("counter", "Counter", "input_register", 100, "uint64")


@pytest.fixture(scope="module")
def model() -> ThingModel:
    return ProfileLibrary(SHIPPED_PROFILES).get(GENERIC_PROFILE)


def _td(model: ThingModel, *registers: Register) -> dict[str, Any]:
    return registers_td(model, DEVICE, registers, title="My device", thing_id="urn:test:device")


def test_one_td_with_a_property_per_register(model: ThingModel) -> None:
    raw = _td(model, POWER, ENERGY, LEVEL, RELAY, ALARM, BIG)
    assert [e.message for e in TD_SCHEMA.iter_errors(raw)] == []
    assert raw["title"] == "My device"
    assert raw["id"] == "urn:test:device"
    assert "description" not in raw  # the model's own text says nothing of this device
    assert list(raw["properties"]) == [
        "power",
        "import_energy",
        "pump_level",
        "relay",
        "alarm",
        "counter",
    ]
    td = parse_td(raw)
    assert td.skipped == ()
    forms = {}
    for name, prop in td.properties.items():
        form = prop.forms[0].modbus
        assert form is not None, name
        forms[name] = form
    power, energy, level = forms["power"], forms["import_energy"], forms["pump_level"]
    assert (power.entity, power.address, power.quantity, power.value_type) == (
        "InputRegister",
        52,
        2,
        "float32",
    )
    assert (power.link.host, power.unit_id) == ("192.0.2.10", 7)
    assert (energy.value_type, energy.word_order, energy.scale) == ("uint32", "little", 0.01)
    assert (level.value_type, level.scale, level.offset) == ("int16", 0.5, -10.0)
    relay, alarm, counter = forms["relay"], forms["alarm"], forms["counter"]
    assert (relay.entity, relay.value_type) == ("Coil", "boolean")
    assert (alarm.entity, alarm.value_type) == ("DiscreteInput", "boolean")
    assert (counter.value_type, counter.quantity) == ("uint64", 4)
    assert td.properties["pump_level"].writable
    assert td.properties["relay"].writable
    assert not td.properties["power"].writable
    assert not td.properties["alarm"].writable


def test_units_and_types(model: ThingModel) -> None:
    raw = _td(model, POWER, ENERGY, LEVEL, RELAY, BIG)["properties"]
    assert raw["power"]["unit"] == "W"
    assert "unit" not in raw["pump_level"]  # none entered: none stated
    assert raw["power"]["type"] == "number"
    assert raw["counter"]["type"] == "integer"  # unscaled integers stay integers
    assert raw["pump_level"]["type"] == "number"  # scaled ones are numbers
    # No range: the client refuses what the registers cannot hold; a number entity with a
    # range of 65,536 steps would be a slider.
    assert not {"minimum", "maximum"} & (set(raw["counter"]) | set(raw["pump_level"]))
    assert raw["relay"]["type"] == "boolean"
    assert "tbm:scale" not in raw["relay"]["forms"][0]


def test_the_unit_decides_device_and_state_class(model: ThingModel) -> None:
    """The TD→entity mapping derives them from the unit, as the register form says."""
    specs = {s.key: s for s in plan_thing(parse_td(_td(model, POWER, ENERGY, LEVEL))).entities}
    assert (specs["property:power"].device_class, specs["property:power"].state_class) == (
        "power",
        "measurement",
    )
    energy = specs["property:import_energy"]
    assert (energy.platform, energy.device_class, energy.state_class) == (
        "sensor",
        "energy",
        "total_increasing",
    )
    assert specs["property:pump_level"].platform == "number"


@pytest.mark.parametrize(
    ("changes", "member", "problem"),
    [
        ({"name": " "}, "name", "name_invalid"),
        ({"key": ""}, "name", "name_invalid"),
        ({"name": "x" * 65}, "name", "name_invalid"),
        ({"table": "memory"}, "table", "table_unknown"),
        ({"address": -1}, "address", "address_range"),
        ({"address": 65536}, "address", "address_range"),
        ({"address": 65535, "data_type": "float32"}, "address", "address_end"),
        ({"data_type": "int128"}, "data_type", "type_unknown"),
        ({"data_type": "boolean"}, "data_type", "bool_register"),
        ({"table": "coil"}, "data_type", "bool_only"),
        ({"word_order": "middle"}, "word_order", "word_order_unknown"),
        ({"scale": 0.0}, "scale", "scale_invalid"),
        ({"scale": float("nan")}, "scale", "scale_invalid"),
        ({"offset": float("inf")}, "offset", "offset_invalid"),
        ({"unit": "u" * 33}, "unit", "unit_long"),
        ({"writable": True}, "writable", "not_writable"),
        (
            {"table": "discrete_input", "data_type": "boolean", "writable": True},
            "writable",
            "not_writable",
        ),
    ],
)
def test_each_problem_is_named(
    model: ThingModel, changes: dict[str, Any], member: str, problem: str
) -> None:
    register = replace(POWER, **changes)
    assert register.problems()[member] == problem
    with pytest.raises(WotValidationError) as caught:
        _td(model, register)
    first = next(iter(register.problems()))
    assert caught.value.path == f"$.registers[0].{first}"


def test_good_registers_have_no_problem() -> None:
    for register in (POWER, ENERGY, LEVEL, RELAY, ALARM, BIG, replace(POWER, address=65534)):
        assert register.problems() == {}, register


def test_stored_registers_round_trip_and_are_checked() -> None:
    for register in (POWER, ENERGY, LEVEL, RELAY):
        stored = json.loads(json.dumps(register.as_dict()))
        assert Register.from_dict(stored) == register
    # Integers stored for scale and offset are numbers too; the defaults fill what is missing.
    minimal = {"key": "k", "name": "K", "table": "coil", "address": 1, "data_type": "boolean"}
    assert Register.from_dict(minimal) == Register("k", "K", "coil", 1, "boolean")
    bad: list[tuple[Any, str]] = [
        ("power", "$.registers[2]"),
        ({**minimal, "address": "1"}, "$.registers[2]"),
        ({**minimal, "writable": 1}, "$.registers[2]"),
        ({**minimal, "scale": True}, "$.registers[2]"),
        ({k: v for k, v in minimal.items() if k != "key"}, "$.registers[2]"),
        ({**minimal, "address": 70000}, "$.registers[2].address"),
    ]
    for data, path in bad:
        with pytest.raises(WotValidationError) as caught:
            Register.from_dict(data, "$.registers[2]")
        assert caught.value.path == path, data


def test_a_td_needs_registers_with_keys_of_their_own(model: ThingModel) -> None:
    with pytest.raises(WotValidationError, match="no register"):
        _td(model)
    with pytest.raises(WotValidationError, match="'power' is used twice") as caught:
        _td(model, POWER, replace(POWER, name="Power again", address=60))
    assert caught.value.path == "$.registers[1].key"
    many = [replace(POWER, key=f"r{i}", address=2 * i) for i in range(MAX_REGISTERS + 1)]
    with pytest.raises(WotValidationError, match=f"more than {MAX_REGISTERS}"):
        _td(model, *many)
    assert len(_td(model, *many[:MAX_REGISTERS])["properties"]) == MAX_REGISTERS
