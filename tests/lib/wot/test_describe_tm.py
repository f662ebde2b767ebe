"""``describe`` on Thing Models: ``--set NAME=VALUE`` and ``--include``."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from custom_components.thingbridge.wot import SHIPPED_PROFILES
from custom_components.thingbridge.wot.__main__ import EXIT_OK, EXIT_REJECTED, main
from custom_components.thingbridge.wot.thing_model import parse_assignment, td_from_document


def _meter_tm() -> dict[str, Any]:
    form = {"href": "http://{{HOST}}:{{PORT}}/p/"}
    return {
        "@context": [
            "https://www.w3.org/2022/wot/td/v1.1",
            {"tm": "https://www.w3.org/2019/wot/tm"},
        ],
        "@type": "tm:ThingModel",
        "title": "Meter {{NAME}}",
        "tm:optional": ["/properties/thd"],
        "properties": {
            "energy": {"type": "number", "unit": "kWh", "readOnly": True, "forms": [form]},
            "limit": {
                "type": "number",
                "unit": "W",
                "maximum": "{{MAX}}",
                "forms": [form],
            },
            "thd": {"type": "number", "unit": "%", "readOnly": True, "forms": [form]},
        },
    }


def _describe(*argv: str) -> tuple[int, list[dict[str, Any]]]:
    out = io.StringIO()
    status = main(["describe", *argv], out=out)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def test_describe_a_thing_model_with_set(tmp_path: Path) -> None:
    path = tmp_path / "meter.tm.json"
    path.write_text(json.dumps(_meter_tm()))
    values = ["--set", "HOST=192.0.2.4", "--set", "PORT=8080", "--set", "NAME=A"]
    status, [line] = _describe(str(path), *values, "--set", "MAX=3680")
    assert status == EXIT_OK
    assert line["title"] == "Meter A"
    by_affordance = {e["affordance"]: e for e in line["entities"]}
    assert set(by_affordance) == {"energy", "limit"}
    assert by_affordance["energy"]["device_class"] == "energy"
    assert by_affordance["limit"]["platform"] == "number"
    # What describe parsed: MAX=3680 became the number (a whole-value placeholder takes the
    # value's type), MAX="3680" the string.
    for text, maximum in (("3680", 3680), ('"3680"', "3680")):
        name, value = parse_assignment(f"MAX={text}")
        td = td_from_document(
            _meter_tm(), path=path, values={"HOST": "h", "PORT": 1, "NAME": "A", name: value}
        )
        assert td["properties"]["limit"]["maximum"] == maximum

    status, [line] = _describe(str(path), *values, "--set", "MAX=1", "--include", "thd")
    assert {e["affordance"] for e in line["entities"]} == {"energy", "limit", "thd"}
    status, [line] = _describe(str(path), *values, "--set", "MAX=1", "--include", "*")
    assert {e["affordance"] for e in line["entities"]} == {"energy", "limit", "thd"}


def test_describe_a_thing_model_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "meter.tm.json"
    path.write_text(json.dumps(_meter_tm()))
    status, [line] = _describe(str(path), "--set", "HOST=h")
    assert status == EXIT_REJECTED
    assert line == {
        "source": str(path),
        "error": f"{path}: $: no value given for the placeholder(s) MAX, NAME, PORT "
        "(give them with --set NAME=VALUE)",
    }
    broken = _meter_tm()
    broken["properties"]["x"] = {"tm:ref": "#/properties/nothing"}
    path.write_text(json.dumps(broken))
    status, [line] = _describe(str(path))
    assert status == EXIT_REJECTED
    assert "$.properties.x[\"tm:ref\"]: '/properties/nothing' names nothing" in line["error"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PORT=502", ("PORT", 502)),
        ("SCALE=0.1", ("SCALE", 0.1)),
        ("READ_ONLY=true", ("READ_ONLY", True)),
        ("HOST=10.0.0.5", ("HOST", "10.0.0.5")),
        ('UNIT_ID="7"', ("UNIT_ID", "7")),
        ("TITLE=a=b", ("TITLE", "a=b")),
        ("EMPTY=", ("EMPTY", "")),
    ],
)
def test_set_values(text: str, expected: tuple[str, Any]) -> None:
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["novalue", "=1", "A{B=1"])
def test_set_rejects(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as failed:
        main(["describe", "x.json", "--set", text])
    assert failed.value.code == 2
    assert "is not NAME=VALUE" in capsys.readouterr().err


def test_describe_a_shipped_profile() -> None:
    """The SDM630 profile as Home Assistant entities: device classes from units and titles."""
    path = SHIPPED_PROFILES / "eastron-sdm630.tm.json"
    values = ["--set", "HOST=192.0.2.5", "--set", "PORT=502", "--set", "UNIT_ID=1"]
    status, [line] = _describe(str(path), *values)
    assert status == EXIT_OK
    assert line["title"] == "Eastron SDM630"
    assert line["skipped"] == []
    entities = {e["affordance"]: e for e in line["entities"]}
    assert len(entities) == 45
    expected = {
        "voltage_l1": ("sensor", "voltage", "V"),
        "current_neutral": ("sensor", "current", "A"),
        "active_power_total": ("sensor", "power", "W"),
        "apparent_power_l2": ("sensor", "apparent_power", "VA"),
        "reactive_power_total": ("sensor", "reactive_power", "var"),
        "power_factor_l3": ("sensor", "power_factor", None),
        "frequency": ("sensor", "frequency", "Hz"),
        "import_energy": ("sensor", "energy", "kWh"),
        "export_energy_l1": ("sensor", "energy", "kWh"),
        "import_reactive_energy": ("sensor", "reactive_energy", "kvarh"),
    }
    for name, (platform, device_class, unit) in expected.items():
        entity = entities[name]
        assert (entity["platform"], entity.get("device_class"), entity.get("unit")) == (
            platform,
            device_class,
            unit,
        ), name
    status, [line] = _describe(str(path), *values, "--include", "demand_period")
    period = next(e for e in line["entities"] if e["affordance"] == "demand_period")
    assert (period["platform"], period["unit"]) == ("number", "min")
