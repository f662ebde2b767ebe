"""Entity mapping: semantic annotations first, then data schemas; nothing is dropped."""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.thingbridge.wot import parse_td
from custom_components.thingbridge.wot.mapping import (
    EntitySpec,
    ThingPlan,
    device_model,
    map_thing,
    plan_thing,
    property_roles,
    spec_affordances,
)
from custom_components.thingbridge.wot.validation import schema_error

BASE = "http://thing.test/"


def _prop(type_: str | None = None, *, ro: bool = False, **extra: Any) -> dict[str, Any]:
    prop: dict[str, Any] = {"forms": [{"href": f"p{len(extra)}"}], **extra}
    if type_ is not None:
        prop["type"] = type_
    if ro:
        prop["readOnly"] = True
    return prop


def _map(**td: Any) -> list[EntitySpec]:
    return map_thing(parse_td({"title": "T", "base": BASE, **td}))


def _by_platform(specs: list[EntitySpec]) -> dict[str, list[EntitySpec]]:
    out: dict[str, list[EntitySpec]] = {}
    for spec in specs:
        out.setdefault(spec.platform, []).append(spec)
    return out


def test_webthings_light_becomes_one_light_entity() -> None:
    specs = _map(
        **{"@type": ["Light", "OnOffSwitch", "ColorControl"]},
        properties={
            "on": _prop("boolean", **{"@type": "OnOffProperty"}),
            "level": _prop("integer", minimum=0, maximum=100, **{"@type": "BrightnessProperty"}),
            "rgb": _prop("string", **{"@type": "ColorProperty"}),
            "ct": _prop("integer", minimum=2200, maximum=6500,
                        **{"@type": "ColorTemperatureProperty"}),
        },
    )  # fmt: skip
    assert len(specs) == 1
    light = specs[0]
    assert (light.platform, light.name, light.key) == ("light", None, "light")
    assert light.roles == {"on": "on", "brightness": "level", "color": "rgb", "color_temp": "ct"}


def test_light_by_property_names_without_semantic_types() -> None:
    """ECHONET-style: the kind comes from the id, the roles from property names."""
    specs = _map(
        id="urn:echonet:generalLighting:1",
        properties={"operationStatus": _prop("boolean"), "brightness": _prop("integer")},
    )
    assert [s.platform for s in specs] == ["light"]
    assert specs[0].roles == {"on": "operationStatus", "brightness": "brightness"}


def test_light_with_only_actions_is_assumed_state() -> None:
    specs = _map(
        **{"@type": "iot:Light"},
        actions={"turnOn": {"forms": [{"href": "on"}]}, "turnOff": {"forms": [{"href": "off"}]}},
    )
    assert [s.platform for s in specs] == ["light"]
    assert specs[0].roles == {"turn_on": "turnOn", "turn_off": "turnOff"}


def test_lock_thermostat_cover_fan() -> None:
    by = _by_platform(
        _map(
            properties={
                "locked": _prop("string", ro=True, enum=["locked", "unlocked", "jammed"],
                                **{"@type": "LockedProperty"}),
                "target": _prop("number", minimum=5, maximum=30,
                                **{"@type": "TargetTemperatureProperty"}),
                "temp": _prop("number", ro=True, unit="degree celsius",
                              **{"@type": "TemperatureProperty"}),
                "mode": _prop("string", enum=["off", "heat"],
                              **{"@type": "ThermostatModeProperty"}),
                "position": _prop("integer", minimum=0, maximum=100, unit="%"),
            },
            actions={
                "lock": {"forms": [{"href": "l"}]},
                "unlock": {"forms": [{"href": "u"}]},
                "open": {"forms": [{"href": "o"}]},
                "close": {"forms": [{"href": "c"}]},
                "stop": {"forms": [{"href": "s"}]},
            },
        )
    )  # fmt: skip
    assert by["lock"][0].roles == {"locked": "locked", "lock": "lock", "unlock": "unlock"}
    assert by["climate"][0].roles == {
        "target_temperature": "target",
        "temperature": "temp",
        "thermostat_mode": "mode",
    }
    assert by["cover"][0].roles == {
        "position": "position",
        "open": "open",
        "close": "close",
        "stop": "stop",
    }
    # Actions used by composites do not become buttons as well; nothing else is left over.
    assert set(by) == {"lock", "climate", "cover"}

    fan = _map(
        **{"@type": "saref:Fan"},
        properties={"power": _prop("boolean"), "fanSpeed": _prop("integer", minimum=0, maximum=3)},
    )
    assert [(s.platform, s.roles) for s in fan] == [("fan", {"on": "power", "speed": "fanSpeed"})]


def test_lock_needs_a_way_to_operate_it() -> None:
    """A read-only locked state without lock/unlock actions is a sensor, not a lock."""
    specs = _map(properties={"locked": _prop("boolean", ro=True, **{"@type": "LockedProperty"})})
    assert [s.platform for s in specs] == ["binary_sensor"]


@pytest.mark.parametrize(
    ("prop", "platform", "device_class", "unit", "state_class"),
    [
        (_prop("number", ro=True, unit="om2:degreeCelsius"), "sensor", "temperature", "°C",
         "measurement"),
        (_prop("number", ro=True, unit="kWh"), "sensor", "energy", "kWh", "total_increasing"),
        (_prop("number", ro=True, unit="watt"), "sensor", "power", "W", "measurement"),
        (_prop("number", ro=True, unit="hertz"), "sensor", "frequency", "Hz", "measurement"),
        (_prop("number", ro=True, unit="var"), "sensor", "reactive_power", "var", "measurement"),
        (_prop("number", ro=True, unit="VA"), "sensor", "apparent_power", "VA", "measurement"),
        (_prop("number", ro=True, unit="kVArh"), "sensor", "reactive_energy", "kvarh",
         "total_increasing"),
        (_prop("number", ro=True, unit="kVAh"), "sensor", None, "kVAh", "total_increasing"),
        (_prop("number", ro=True, unit="qudt:MilliV"), "sensor", None, "qudt:MilliV",
         "measurement"),
        (_prop("number", ro=True, unit="millibar"), "sensor", "pressure", "mbar", "measurement"),
        (_prop("number", ro=True, unit="%", **{"@type": "HumidityProperty"}), "sensor",
         "humidity", "%", "measurement"),
        (_prop("integer", ro=True, unit="ppm", **{"@type": "CO2Property"}), "sensor",
         "carbon_dioxide", "ppm", "measurement"),
        (_prop("number", ro=True, unit="furlongs"), "sensor", None, "furlongs", "measurement"),
        (_prop("number", minimum=0, maximum=10, unit="°C"), "number", "temperature", "°C",
         None),
        (_prop("boolean", ro=True, **{"@type": "MotionProperty"}), "binary_sensor", "motion",
         None, None),
        (_prop("boolean"), "switch", None, None, None),
        (_prop("string", enum=["a", "b"]), "select", None, None, None),
        (_prop("string", ro=True, enum=["a", "b"]), "sensor", "enum", None, None),
        (_prop("string"), "text", None, None, None),
        (_prop("string", ro=True), "sensor", None, None, None),
    ],
)  # fmt: skip
def test_single_properties_by_schema(
    prop: dict[str, Any],
    platform: str,
    device_class: str | None,
    unit: str | None,
    state_class: str | None,
) -> None:
    [spec] = _map(properties={"x": prop})
    assert (spec.platform, spec.device_class, spec.unit) == (platform, device_class, unit)
    if state_class is not None:
        assert spec.state_class == state_class
    assert (spec.key, spec.name, spec.affordance) == ("property:x", "x", "x")
    assert spec.enabled_default


def test_power_factor_by_name_or_title() -> None:
    """A meter's power factor has no unit (a ratio) or %: the words say what it is."""
    specs = _map(
        properties={
            "pf": _prop("number", ro=True, title="L1 power factor"),
            "power_factor_total": _prop("number", ro=True, unit="%"),
            "factor": _prop("number", ro=True),
        }
    )
    assert [(s.affordance, s.device_class, s.unit) for s in specs] == [
        ("pf", "power_factor", None),
        ("power_factor_total", "power_factor", "%"),
        ("factor", None, None),
    ]


def test_unrecognised_properties_stay_visible_as_disabled_diagnostics() -> None:
    [obj, untyped] = _map(
        properties={"blob": _prop("object", ro=True), "mystery": {"forms": [{"href": "m"}]}}
    )
    for spec in (obj, untyped):
        assert spec.platform == "sensor"
        assert spec.entity_category == "diagnostic"
        assert spec.enabled_default is False
        assert spec.as_dict()["enabled_default"] is False


def test_actions_and_events() -> None:
    specs = _map(
        actions={
            "reboot": {"title": "Reboot", "forms": [{"href": "r"}]},
            "optional": {"input": {"type": "object", "properties": {"x": {"type": "integer"}}},
                         "forms": [{"href": "o"}]},
            "fade": {"input": {"type": "object", "required": ["level"],
                               "properties": {"level": {"type": "integer"}}},
                     "forms": [{"href": "f"}]},
            "set": {"input": {"type": "integer"}, "forms": [{"href": "s"}]},
            "delete": {"uriVariables": {"id": {"type": "string"}},
                       "forms": [{"href": "things/{id}", "htv:methodName": "DELETE"}]},
            "start": {"uriVariables": {"speed": {"type": "integer"}},
                      "forms": [{"href": "start{?speed}"}]},
        },
        events={"overheated": {"data": {"type": "number"}, "forms": [{"href": "e"}]}},
    )  # fmt: skip
    assert [(s.platform, s.key, s.name) for s in specs] == [
        ("button", "action:reboot", "Reboot"),
        ("button", "action:optional", "optional"),
        # one value each: a number that invokes the action ("delete" needs its path variable)
        ("number", "action:fade", "fade"),
        ("number", "action:set", "set"),
        ("button", "action:start", "start"),
        ("event", "event:overheated", "overheated"),
    ]
    assert specs[0].as_dict() == {"platform": "button", "name": "Reboot", "affordance": "reboot"}


def test_roles_from_titles_and_prefixed_types() -> None:
    td = parse_td(
        {"title": "T", "base": BASE, "properties": {
            "p1": _prop("boolean", title="On/Off", **{"@type": "saref:OnOffState"}),
            "p2": _prop("number", title="Set point"),
            "p3": _prop("number", **{"@type": "https://webthings.io/schemas#LevelProperty"}),
        }}
    )  # fmt: skip
    assert property_roles(td.properties["p1"]) == {"on"}
    assert property_roles(td.properties["p2"]) == {"target_temperature"}
    assert property_roles(td.properties["p3"]) == set()


@pytest.mark.parametrize(
    ("schema", "value", "error"),
    [
        ({"type": "integer", "minimum": 0, "maximum": 10}, 5, None),
        ({"type": "integer"}, 5.0, None),
        ({"type": "integer"}, 5.5, "value must be of type integer"),
        ({"type": "number"}, True, "value must be of type number"),
        ({"type": "integer", "minimum": 0}, -1, "value must be at least 0"),
        ({"type": "number", "maximum": 1.5}, 2, "value must be at most 1.5"),
        ({"type": "string", "enum": ["a", "b"]}, "c", "value must be one of a, b"),
        ({"type": "string", "minLength": 2}, "a", "value must have at least 2 characters"),
        ({"type": "string", "maxLength": 1}, "ab", "value must have at most 1 characters"),
        ({"const": 3}, 4, "value must be 3"),
        ({"type": "number", "multipleOf": 0.5}, 2.5, None),
        ({"type": "number", "multipleOf": 0.1}, 0.3, None),
        ({"type": "number", "multipleOf": 0.5}, 2.2, "value must be a multiple of 0.5"),
        ({"type": "null"}, None, None),
        ({"type": "null"}, 1, "value must be null"),
        ({"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}, {},
         "value.a is required"),
        ({"type": "object", "properties": {"a": {"type": "integer"}}}, {"a": "x"},
         "value.a must be of type integer"),
        ({"type": "array", "items": {"type": "boolean"}}, [True, 1],
         "value[1] must be of type boolean"),
        ({"oneOf": [{"type": "integer"}, {"type": "string"}]}, "x", None),
        ({"oneOf": [{"type": "integer"}, {"type": "string"}]}, [],
         "value matches none of the allowed shapes"),
    ],
)  # fmt: skip
def test_schema_validation(schema: dict[str, Any], value: Any, error: str | None) -> None:
    td = parse_td(
        {"title": "T", "base": BASE, "properties": {"x": {**schema, "forms": [{"href": "x"}]}}}
    )
    assert schema_error(td.properties["x"].schema, value) == error


def test_switches_and_plugs_take_the_device_name() -> None:
    [plug, power] = _map(
        **{"@type": ["SmartPlug", "OnOffSwitch"]},
        properties={
            "on": _prop("boolean", **{"@type": "OnOffProperty"}),
            "power": _prop("number", ro=True, unit="W"),
        },
    )
    assert (plug.platform, plug.key, plug.name, plug.device_class) == (
        "switch",
        "switch",
        None,
        "outlet",
    )
    assert plug.roles == {"on": "on"}
    assert (power.platform, power.device_class) == ("sensor", "power")
    [relay] = _map(**{"@type": "saref:Switch"}, properties={"state": _prop("boolean", title="On")})
    assert (relay.name, relay.device_class) == (None, "switch")
    # Without a switch-like type a writable boolean stays a named switch.
    [other] = _map(properties={"eco": _prop("boolean")})
    assert (other.key, other.name) == ("property:eco", "eco")


def _act(**extra: Any) -> dict[str, Any]:
    return {"forms": [{"href": extra.pop("href", "a")}], **extra}


def test_actions_taking_one_value_become_text_number_and_select() -> None:
    """Intel's web-speak Thing (w3c/wot-testing) has only a ``say`` action taking a string."""
    specs = _map(
        actions={
            "say": _act(title="Say", input={"type": "string", "maxLength": 80}),
            "setVolume": _act(input={"type": "integer", "minimum": 0, "maximum": 11}),
            "mode": _act(input={"type": "string", "enum": ["calm", "loud"]}),
            "speak": _act(
                input={
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"],
                }
            ),
            "beep": _act(
                input={
                    "type": "object",
                    "required": ["hz", "ms"],
                    "properties": {"hz": {"type": "integer"}, "ms": {"type": "integer"}},
                }
            ),
            "goto": _act(href="go/{target}", input={"type": "string"}),
            "upload": _act(input={"type": "array"}),
            "reset": _act(),
        }
    )
    by_key = {s.key: s for s in specs}
    say = by_key["action:say"]
    assert (say.platform, say.name, say.maximum) == ("text", "Say", 80)
    assert say.action_input is not None
    assert say.action_input.build("hi") == "hi"
    volume = by_key["action:setVolume"]
    assert (volume.platform, volume.minimum, volume.maximum, volume.step) == ("number", 0, 11, 1.0)
    mode = by_key["action:mode"]
    assert (mode.platform, mode.options) == ("select", ("calm", "loud"))
    speak = by_key["action:speak"]
    assert speak.platform == "text"
    assert speak.action_input is not None
    assert speak.action_input.build("hi") == {"text": "hi"}
    assert speak.as_dict()["input_member"] == "text"
    assert by_key["action:reset"].platform == "button"
    # Two inputs, a path variable, an array: only thingbridge.invoke_action can fill them in.
    assert not {"action:beep", "action:goto", "action:upload"} & set(by_key)


def _plan(**td: Any) -> ThingPlan:
    return plan_thing(parse_td({"title": "T", "base": BASE, **td}))


def test_every_action_is_an_entity_or_a_service_with_its_reason() -> None:
    """Issue 10: several inputs, a path variable, an array were listed nowhere; a boolean too.

    One boolean input is a switch that invokes the action; what no entity can invoke is a
    service, named as entities name their affordance, with why.
    """
    plan = _plan(
        actions={
            "mute": _act(input={"type": "boolean"}),
            "night": _act(
                input={"type": "object", "properties": {"on": {"type": "boolean"}},
                       "required": ["on"]}
            ),
            "beep": _act(
                input={"type": "object", "required": ["hz", "ms"],
                       "properties": {"hz": {"type": "integer"}, "ms": {"type": "integer"}}}
            ),
            "goto": _act(href="go/{target}", input={"type": "string"}),
            "upload": _act(input={"type": "array"}),
            "blob": _act(input={"type": "object", "required": ["x"]}),
            "anything": _act(input={"description": "implied by the content type"}),
            "vague": _act(input={"type": "object", "properties": {"x": {}}, "required": ["x"]}),
        }
    )  # fmt: skip
    by_key = {s.key: s for s in plan.entities}
    mute = by_key["action:mute"]
    assert mute.platform == "switch"
    assert mute.action_input is not None
    assert mute.action_input.build(True) is True
    assert mute.as_dict() == {
        "platform": "switch", "name": "mute", "affordance": "mute", "invokes_action": True
    }  # fmt: skip
    night = by_key["action:night"]
    assert night.platform == "switch"
    assert night.action_input is not None
    assert night.action_input.build(False) == {"on": False}
    assert [s.as_dict() for s in plan.services] == [
        {"affordance": "beep", "kind": "action", "reason": "several inputs"},
        {"affordance": "goto", "kind": "action", "reason": "its address takes URI variables"},
        {"affordance": "upload", "kind": "action", "reason": "an input of type array"},
        {"affordance": "blob", "kind": "action",
         "reason": "an object input whose members are not described"},
        {"affordance": "vague", "kind": "action", "reason": "an input of no stated type"},
    ]  # fmt: skip
    # An input of no stated type is sent as given: a button (as before), not a service.
    assert by_key["action:anything"].platform == "button"


def test_actions_repeating_a_mapped_role_are_services() -> None:
    """Issue 10: a light that toggles gets no "Toggle" button beside it (nor turnOn/turnOff).

    Without such a light, the same action is still a button.
    """
    light = {
        "@type": ["Light"],
        "properties": {"on": _prop("boolean", **{"@type": "OnOffProperty"})},
        "actions": {
            "toggle": _act(**{"@type": "ToggleAction"}),
            "turnOn": _act(),
            "flash": _act(),
        },
    }
    plan = _plan(**light)
    assert [(s.platform, s.key) for s in plan.entities] == [
        ("light", "light"), ("button", "action:flash")
    ]  # fmt: skip
    assert [s.as_dict() for s in plan.services] == [
        {"affordance": "toggle", "kind": "action", "reason": "repeats the light's on/off"},
        {"affordance": "turnOn", "kind": "action", "reason": "repeats the light's on/off"},
    ]
    sensor = _plan(properties={"t": _prop("number", ro=True)}, actions={"toggle": _act()})
    assert [s.key for s in sensor.entities] == ["property:t", "action:toggle"]
    assert sensor.services == []


def test_a_property_and_an_action_of_the_same_name_are_both_accounted_for() -> None:
    """A lamp's ``on`` property plays the light; its ``on`` action is not taken as used."""
    plan = _plan(
        **{"@type": ["Light"]},
        properties={"on": _prop("boolean"), "brightness": _prop("integer")},
        actions={"on": _act(input={"type": "integer"}, title="On for seconds")},
    )
    places = [a for s in plan.entities for a in spec_affordances(s)]
    assert sorted(places) == [("action", "on"), ("property", "brightness"), ("property", "on")]
    assert plan.services == []


def test_webthings_dimmer_is_a_dimmable_light() -> None:
    """Issue 10: ``OnOffSwitch`` + ``MultiLevelSwitch`` with a ``LevelProperty``: one light.

    A smart plug that also dims stays an outlet with a level number.
    """
    properties = {
        "on": _prop("boolean", **{"@type": "OnOffProperty"}),
        "level": _prop("integer", minimum=0, maximum=100, **{"@type": "LevelProperty"}),
    }
    dimmer = _map(**{"@type": ["OnOffSwitch", "MultiLevelSwitch"]}, properties=properties)
    assert [(s.platform, s.key, dict(s.roles)) for s in dimmer] == [
        ("light", "light", {"on": "on", "brightness": "level"})
    ]
    # Without a level to dim by, it is the switch it says it is.
    bare = _map(
        **{"@type": ["OnOffSwitch", "MultiLevelSwitch"]}, properties={"on": properties["on"]}
    )
    assert [(s.platform, s.key) for s in bare] == [("switch", "switch")]
    plug = _map(
        **{"@type": ["OnOffSwitch", "SmartPlug", "MultiLevelSwitch"]}, properties=properties
    )
    assert [(s.platform, s.key, s.device_class) for s in plug] == [
        ("switch", "switch", "outlet"), ("number", "property:level", None)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("td", "model"),
    [
        ({"@type": ["Light", "OnOffSwitch", "ColorControl"]}, "Light"),
        ({"@type": "s4bldg:ShadingDevice"}, "Shading device"),
        ({"@type": ["OnOffSwitch", "MultiLevelSwitch"]}, "Dimmer switch"),
        ({"@type": ["OnOffSwitch", "SmartPlug", "EnergyMonitor"]}, "Smart plug"),
        ({"@type": ["OnOffSwitch"]}, "On/off switch"),
        ({"@type": ["Thermostat", "TemperatureSensor"]}, "Thermostat"),
        ({"@type": "saref:CO2Sensor"}, "CO2 sensor"),
        ({"@type": "Thing"}, None),
        ({}, None),
        # The TD's own model wins.
        ({"@type": ["Light"], "schema:model": "Hue A19"}, "Hue A19"),
        ({"@type": ["Light"], "productName": "Bulb 9"}, "Bulb 9"),
    ],
)
def test_device_model_is_readable(td: dict[str, Any], model: str | None) -> None:
    """Issue 10: never the raw ``@type`` list."""
    thing = parse_td({"title": "T", "base": BASE, "properties": {"x": _prop("string")}, **td})
    assert device_model(thing) == model
