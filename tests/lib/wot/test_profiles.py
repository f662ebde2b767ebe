"""The shipped Thing Models: W3C schemas, coverage of the vendor maps, units and encodings."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import jsonschema
import pytest

from custom_components.thingbridge.wot import (
    SHIPPED_PROFILES,
    ProfileLibrary,
    ThingModel,
    instantiate,
    parse_td,
    placeholders,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
TD_SCHEMA = jsonschema.Draft7Validator(
    json.loads((SCHEMAS / "td-json-schema-validation.json").read_text())
)
TM_SCHEMA = jsonschema.Draft7Validator(
    json.loads((SCHEMAS / "tm-json-schema-validation.json").read_text())
)
DEVICE = {"HOST": "192.0.2.10", "PORT": 502, "UNIT_ID": 7}
GENERIC = {
    **DEVICE,
    "TITLE": "Boiler flow temperature",
    "ADDRESS": 40,
    "QUANTITY": 2,
    "ENTITY": "HoldingRegister",
    "MODBUS_TYPE": "xsd:int",
    "VALUE_TYPE": "number",
    "MOST_SIGNIFICANT_WORD": False,
    "SCALE": 0.1,
    "OFFSET": -40.0,
    "UNIT": "°C",
    "READ_ONLY": False,
}
SHIPPED = ["carlo-gavazzi-em24", "eastron-sdm120", "eastron-sdm630", "generic-modbus"]
HREF = re.compile(r"^modbus\+tcp://192\.0\.2\.10:502/7/(\d+)\?quantity=(\d+)$")


@pytest.fixture(scope="module")
def library() -> ProfileLibrary:
    return ProfileLibrary(SHIPPED_PROFILES)


def _values(profile_id: str) -> dict[str, Any]:
    return GENERIC if profile_id == "generic-modbus" else DEVICE


def _all_optional(tm: ThingModel) -> set[str]:
    return set(tm.optional)


def _schema_errors(validator: jsonschema.Draft7Validator, document: Any) -> list[str]:
    return [
        f"{error.json_path}: {error.message[:200]}" for error in validator.iter_errors(document)
    ]


def test_library_lists_the_shipped_profiles(library: ProfileLibrary) -> None:
    assert library.ids() == SHIPPED
    assert library.errors == []
    for profile_id in SHIPPED:
        assert (SHIPPED_PROFILES / f"{profile_id}.tm.json").is_file()
        if profile_id != "generic-modbus":
            assert placeholders(library.get(profile_id)) == {"HOST", "PORT", "UNIT_ID"}


def test_schemas_are_live() -> None:
    """The validators reject what the W3C schemas forbid (so a pass below means something)."""
    assert _schema_errors(TD_SCHEMA, {"@context": "https://www.w3.org/2022/wot/td/v1.1"})
    assert _schema_errors(
        TD_SCHEMA,
        {
            "@context": "https://www.w3.org/2022/wot/td/v1.1",
            "title": "x",
            "security": "s",
            "securityDefinitions": {"s": {"scheme": "nosec"}},
            "properties": {"p": {"type": "number", "readOnly": "yes", "forms": [{"href": "/"}]}},
        },
    )
    assert _schema_errors(TM_SCHEMA, {"@context": "x", "@type": "tm:ThingModel", "title": 5})


@pytest.mark.parametrize("profile_id", SHIPPED)
def test_shipped_tm_validates_against_the_tm_schema(profile_id: str) -> None:
    raw = json.loads((SHIPPED_PROFILES / f"{profile_id}.tm.json").read_text())
    assert _schema_errors(TM_SCHEMA, raw) == []


@pytest.mark.parametrize("profile_id", SHIPPED)
@pytest.mark.parametrize("with_optional", [False, True])
def test_generated_td_validates_against_the_td_schema(
    library: ProfileLibrary, profile_id: str, *, with_optional: bool
) -> None:
    tm = library.get(profile_id)
    include = _all_optional(tm) if with_optional else set()
    td = instantiate(tm, _values(profile_id), include=include)
    assert _schema_errors(TD_SCHEMA, td) == []
    assert "{{" not in json.dumps(td)
    assert not any(key.startswith("tm:") for key in td)
    assert td["links"][-1] == {
        "rel": "type",
        "href": f"{profile_id}.tm.json",
        "type": "application/tm+json",
    }
    expected = set(tm.document["properties"])
    if not with_optional:
        expected -= {name for _kind, name in tm.optional_affordances().values()}
    assert set(td["properties"]) == expected
    for name, prop in td["properties"].items():
        (form,) = prop["forms"]
        match = HREF.match(form["href"])
        assert match, (name, form["href"])
        assert form["modv:entity"] in {"InputRegister", "HoldingRegister", "Coil", "DiscreteInput"}
        assert form["modv:type"].startswith("xsd:")
        assert isinstance(prop["readOnly"], bool)


def _registers(tm: ThingModel) -> dict[str, tuple[int, int, dict[str, Any], dict[str, Any]]]:
    td = instantiate(tm, DEVICE, include=_all_optional(tm))
    out = {}
    for name, prop in td["properties"].items():
        form = prop["forms"][0]
        match = HREF.match(form["href"])
        assert match
        out[name] = (int(match.group(1)), int(match.group(2)), prop, form)
    return out


def test_sdm630_covers_the_published_map(library: ProfileLibrary) -> None:
    """Eastron SDM630 V2 manual section 1.2.1 (modbus.md section 3.2): addresses and units."""
    regs = _registers(library.get("eastron-sdm630"))
    expected = {
        # per phase: voltage, current, active/apparent/reactive power, power factor
        **{f"voltage_l{i + 1}": (0x00 + 2 * i, "V") for i in range(3)},
        **{f"current_l{i + 1}": (0x06 + 2 * i, "A") for i in range(3)},
        **{f"active_power_l{i + 1}": (0x0C + 2 * i, "W") for i in range(3)},
        **{f"apparent_power_l{i + 1}": (0x12 + 2 * i, "VA") for i in range(3)},
        **{f"reactive_power_l{i + 1}": (0x18 + 2 * i, "var") for i in range(3)},
        **{f"power_factor_l{i + 1}": (0x1E + 2 * i, None) for i in range(3)},
        "voltage_ln_average": (0x2A, "V"),
        "current_sum": (0x30, "A"),
        "active_power_total": (0x34, "W"),
        "apparent_power_total": (0x38, "VA"),
        "reactive_power_total": (0x3C, "var"),
        "power_factor_total": (0x3E, None),
        "frequency": (0x46, "Hz"),
        "import_energy": (0x48, "kWh"),
        "export_energy": (0x4A, "kWh"),
        "import_reactive_energy": (0x4C, "kvarh"),
        "export_reactive_energy": (0x4E, "kvarh"),
        "demand_active_power_total": (0x54, "W"),
        "voltage_l1_l2": (0xC8, "V"),
        "voltage_l2_l3": (0xCA, "V"),
        "voltage_l3_l1": (0xCC, "V"),
        "current_neutral": (0xE0, "A"),
        "voltage_thd_l1": (0xEA, "%"),
        "total_energy": (0x156, "kWh"),
        **{f"import_energy_l{i + 1}": (0x15A + 2 * i, "kWh") for i in range(3)},
        **{f"export_energy_l{i + 1}": (0x160 + 2 * i, "kWh") for i in range(3)},
        **{f"total_energy_l{i + 1}": (0x166 + 2 * i, "kWh") for i in range(3)},
    }
    for name, (address, unit) in expected.items():
        got_address, quantity, prop, form = regs[name]
        assert (got_address, prop.get("unit")) == (address, unit), name
        assert quantity == 2
        assert form["modv:entity"] == "InputRegister"
        assert form["modv:type"] == "xsd:float"
        assert form["modv:mostSignificantWord"] is True
        assert prop["readOnly"] is True
    inputs = [v for v in regs.values() if v[3]["modv:entity"] == "InputRegister"]
    assert len(inputs) == 85
    assert len({address for address, *_ in inputs}) == len(inputs)  # no address twice
    demand = regs["demand_period"]
    assert demand[3]["modv:entity"] == "HoldingRegister"
    assert demand[2]["readOnly"] is False
    assert demand[3]["op"] == ["readproperty", "writeproperty"]
    assert demand[2]["enum"] == [0, 5, 8, 10, 15, 20, 30, 60]


def test_sdm630_optional_groups(library: ProfileLibrary) -> None:
    tm = library.get("eastron-sdm630")
    optional = {name for _kind, name in tm.optional_affordances().values()}
    assert {"demand_active_power_total", "voltage_thd_l1", "current_thd_l3"} <= optional
    assert not optional & {"active_power_total", "import_energy", "total_energy_l2", "frequency"}
    td = instantiate(tm, DEVICE, include={"voltage_thd_l1"})
    assert "voltage_thd_l1" in td["properties"]
    assert "voltage_thd_l2" not in td["properties"]


def test_sdm120_map(library: ProfileLibrary) -> None:
    regs = _registers(library.get("eastron-sdm120"))
    for name, address, unit in (
        ("voltage", 0, "V"),
        ("current", 6, "A"),
        ("active_power", 12, "W"),
        ("apparent_power", 18, "VA"),
        ("reactive_power", 24, "var"),
        ("power_factor", 30, None),
        ("frequency", 70, "Hz"),
        ("import_energy", 72, "kWh"),
        ("export_energy", 74, "kWh"),
        ("total_energy", 342, "kWh"),
        ("serial_number", 0xFC00, None),
    ):
        assert regs[name][0] == address
        assert regs[name][2].get("unit") == unit
    assert regs["serial_number"][3]["modv:type"] == "xsd:unsignedInt"


def test_em24_int32_cdab_with_fixed_scales(library: ProfileLibrary) -> None:
    """Carlo Gavazzi EM24 (modbus.md section 3.3): INT32 word-swapped, fixed scales."""
    regs = _registers(library.get("carlo-gavazzi-em24"))
    expected = {
        "voltage_l1": (0x00, 2, "xsd:int", 0.1, "V"),
        "voltage_l1_l2": (0x06, 2, "xsd:int", 0.1, "V"),
        "current_l1": (0x0C, 2, "xsd:int", 0.001, "A"),
        "active_power_l1": (0x12, 2, "xsd:int", 0.1, "W"),
        "active_power_total": (0x28, 2, "xsd:int", 0.1, "W"),
        "power_factor_l1": (0x2E, 1, "xsd:short", 0.001, None),
        "power_factor_total": (0x31, 1, "xsd:short", 0.001, None),
        "frequency": (0x33, 1, "xsd:unsignedShort", 0.1, "Hz"),
        "import_energy": (0x34, 2, "xsd:int", 0.1, "kWh"),
        "export_energy": (0x4E, 2, "xsd:int", 0.1, "kWh"),
    }
    for name, (address, quantity, modv_type, scale, unit) in expected.items():
        got, got_quantity, prop, form = regs[name]
        assert (got, got_quantity, form["modv:type"], form["tbm:scale"], prop.get("unit")) == (
            address,
            quantity,
            modv_type,
            scale,
            unit,
        ), name
        assert form["modv:mostSignificantWord"] is False
        assert prop["type"] == "number"


def test_generic_register_from_ui_fields(library: ProfileLibrary) -> None:
    """The glue instantiates the generic model once per register entered in the UI."""
    tm = library.get("generic-modbus")
    assert placeholders(tm) == set(GENERIC)
    td = instantiate(tm, GENERIC)
    prop = td["properties"]["register"]
    form = prop["forms"][0]
    assert form["href"] == "modbus+tcp://192.0.2.10:502/7/40?quantity=2"
    # Whole-value placeholders keep the type of the value given.
    assert form["tbm:scale"] == 0.1
    assert form["tbm:offset"] == -40.0
    assert form["modv:mostSignificantWord"] is False
    assert prop["readOnly"] is False
    assert prop["unit"] == "°C"
    assert td["title"] == "Boiler flow temperature"
    assert _schema_errors(TD_SCHEMA, td) == []


@pytest.mark.parametrize("profile_id", SHIPPED)
def test_generated_td_parses_with_the_modbus_binding(
    library: ProfileLibrary, profile_id: str
) -> None:
    """Every form of every TD a shipped TM generates is a Modbus form the binding reads."""
    tm = library.get(profile_id)
    raw = instantiate(tm, _values(profile_id), include=_all_optional(tm))
    td = parse_td(raw)
    assert td.skipped == ()
    assert set(td.properties) == set(raw["properties"])
    for name, prop in td.properties.items():
        assert prop.forms
        for form in prop.forms:
            assert form.modbus is not None, name
            declared = raw["properties"][name]["forms"][0]
            assert form.modbus.link.host == "192.0.2.10"
            assert form.modbus.link.port == 502
            assert form.modbus.unit_id == 7
            assert form.modbus.entity == declared["modv:entity"]
            assert form.modbus.most_significant_word is declared["modv:mostSignificantWord"]
            assert form.modbus.scale == declared.get("tbm:scale", 1.0)
            assert form.modbus.offset == declared.get("tbm:offset", 0.0)
            assert (form.modbus.address, form.modbus.quantity) == tuple(
                int(n)
                for n in HREF.match(declared["href"]).groups()  # type: ignore[union-attr]
            )
        assert prop.writable is (not raw["properties"][name]["readOnly"])


@pytest.mark.parametrize(
    ("profile_id", "manufacturer", "model"),
    [
        ("eastron-sdm630", "Eastron", "SDM630"),
        ("eastron-sdm120", "Eastron", "SDM120"),
        ("carlo-gavazzi-em24", "Carlo Gavazzi", "EM24"),
    ],
)
def test_a_profiles_device_says_its_maker_and_model_not_a_firmware(
    profile_id: str, manufacturer: str, model: str
) -> None:
    """The device page shows the meter's maker and model; the profile's version is no firmware."""
    tm = ProfileLibrary(SHIPPED_PROFILES).get(profile_id)
    td = parse_td(instantiate(tm, {"HOST": "10.0.0.5", "PORT": 502, "UNIT_ID": 1}))
    assert (td.manufacturer, td.model, td.sw_version) == (manufacturer, model, None)
