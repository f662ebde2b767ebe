"""Quirks of Thing Descriptions found in the wild (W3C plugfests, the TD spec, the playground).

Each test reproduces one defect found by running ``describe`` over the TDs of w3c/wot-testing,
w3c/wot-thing-description and eclipse-thingweb/playground, with a small inline excerpt of the
TD that showed it (the source is named in a comment).
"""

from __future__ import annotations

from typing import Any

import pytest
from yarl import URL

from custom_components.thingbridge.wot import WotValidationError, parse_td
from custom_components.thingbridge.wot.mapping import EntitySpec, map_thing
from custom_components.thingbridge.wot.units import canonical_unit
from custom_components.thingbridge.wot.validation import schema_error

HREF = "http://192.0.2.7/things/t"


def _prop(**schema: Any) -> dict[str, Any]:
    return {**schema, "forms": [{"href": f"{HREF}/p"}]}


def _thing(**members: Any) -> dict[str, Any]:
    return {
        "title": "T",
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": ["nosec_sc"],
        **members,
    }


def _specs(raw: dict[str, Any]) -> dict[str, EntitySpec]:
    return {spec.affordance: spec for spec in map_thing(parse_td(raw))}


# --------------------------------------------------------------------------------------------
# security


def test_inline_security_objects_of_the_2018_drafts_are_defined() -> None:
    # wot-testing events/plugfest/2018-bundang/TDs/Oracle/Audi-A8-4.jsonld and 135 others:
    # "security": [{"scheme": "basic"}], no securityDefinitions; forms repeat inline objects.
    raw = {
        "title": "Car",
        "security": [{"scheme": "basic"}],
        "properties": {
            "speed": {
                "type": "number",
                "forms": [
                    {"href": f"{HREF}/speed"},
                    {"href": f"{HREF}/speed", "security": [{"scheme": "digest"}]},
                ],
            }
        },
    }
    td = parse_td(raw)
    assert td.security == ("basic_inline",)
    assert td.schemes == ("basic",)
    assert td.requires_credentials
    forms = td.properties["speed"].forms_for("readproperty")
    assert [f.security for f in forms] == [None, ("digest_inline",)]
    assert td.security_definitions["digest_inline"].scheme == "digest"


def test_inline_security_with_members_gets_a_name_of_its_own() -> None:
    # events/2018.../Oracle TDs: bearer objects carrying format, alg and an authorizationUrl.
    bearer = {"scheme": "bearer", "format": "jwt", "alg": "ES256", "authorizationUrl": "x"}
    td = parse_td({**_thing(properties={"p": _prop(type="number")}), "security": [bearer]})
    (name,) = td.security
    assert name.startswith("bearer_inline_")
    assert td.security_definitions[name].format == "jwt"
    # The same object gives the same name (it is derived from the content).
    assert parse_td({**_thing(properties={"p": _prop()}), "security": bearer}).security == (name,)


def test_single_inline_object_and_misspelled_scheme_member() -> None:
    # events/plugfest/2019-tpac-fukuoka: "security": [{"schema": "basic"}].
    td = parse_td({**_thing(properties={"p": _prop()}), "security": [{"schema": "basic"}]})
    assert td.schemes == ("basic",)
    td = parse_td({**_thing(properties={"p": _prop()}), "security": {"scheme": "nosec"}})
    assert not td.requires_credentials


def test_undefined_security_name_that_is_a_scheme_stands_for_it() -> None:
    # events/testfest/2018-12-online/TDs/Oracle/*.jsonld: "security": ["basic"], no definitions;
    # playground tds/invalid/emptySecDef.json: "security": ["nosec"], "securityDefinitions": {}.
    raw = {"title": "Pump", "security": ["basic"], "properties": {"p": _prop()}}
    assert parse_td(raw).schemes == ("basic",)
    raw = {**raw, "security": ["nosec"], "securityDefinitions": {}}
    assert not parse_td(raw).requires_credentials
    # A form naming an undefined scheme keyword works the same way.
    raw = {
        "title": "T",
        "security": "nosec",
        "properties": {"p": {"forms": [{"href": HREF, "security": ["digest"]}]}},
    }
    assert parse_td(raw).security_definitions["digest"].scheme == "digest"


def test_undefined_security_name_that_is_no_scheme_is_still_rejected() -> None:
    # events/testfest/2019-02-princeton/OLD/TDs/Fujitsu/Fujitsu-LED.jsonld (a typo).
    raw = {
        "title": "LED",
        "securityDefinitions": {"nonec_sc": {"scheme": "basic"}},
        "security": ["nonesec_sc"],
        "properties": {"p": _prop()},
    }
    with pytest.raises(WotValidationError) as err:
        parse_td(raw)
    assert err.value.path == "$.security"
    assert "nonesec_sc" in err.value.reason


# --------------------------------------------------------------------------------------------
# base and forms


def test_base_of_another_protocol_keeps_absolute_http_forms() -> None:
    # playground examples/td/15-link-relation-type/collection-rel.td.jsonld: a coaps base,
    # some https hrefs; wot-testing events/2021.03.Online/Results/mjk-onedm/modbus-rtu.td.jsonld.
    raw = _thing(
        base="coaps://motor1.example.com",
        properties={
            "speed": {"type": "number", "forms": [{"href": "/speed"}]},
            "state": {"type": "string", "forms": [{"href": "https://motor1.example.com/st"}]},
        },
    )
    td = parse_td(raw)
    assert list(td.properties) == ["state"]
    assert td.properties["state"].forms[0].target() == URL("https://motor1.example.com/st")
    (skipped,) = td.skipped
    assert skipped.path == "$.properties.speed.forms[0].href"
    assert "coaps" in skipped.reason
    # With no HTTP form at all the TD is rejected, naming the form and the base.
    del raw["properties"]["state"]
    with pytest.raises(WotValidationError) as err:
        parse_td(raw)
    assert err.value.path == "$.properties.speed.forms[0].href"
    assert "base" in err.value.reason


def test_form_member_spellings_of_older_tds() -> None:
    # 2018-2020 plugfest TDs: "http:methodName", "mediaType", "subProtocol" (906, 1820 and
    # 578 forms of wot-testing), and "htv:method".
    raw = _thing(
        properties={
            "p": {
                "type": "string",
                "forms": [
                    {"href": HREF, "op": "writeproperty", "http:methodName": "POST"},
                    {"href": HREF, "op": "readproperty", "mediaType": "text/plain"},
                    {"href": HREF, "op": "observeproperty", "subProtocol": "longpoll"},
                ],
            }
        },
        actions={"a": {"forms": [{"href": HREF, "htv:method": "PUT"}]}},
    )
    td = parse_td(raw)
    prop = td.properties["p"]
    assert prop.form_for("writeproperty").method == "POST"  # type: ignore[union-attr]
    assert prop.form_for("readproperty").content_type == "text/plain"  # type: ignore[union-attr]
    assert prop.form_for("observeproperty").subprotocol == "longpoll"  # type: ignore[union-attr]
    assert td.actions["a"].forms[0].method == "PUT"


def test_camel_case_ops_and_rel_instead_of_op() -> None:
    # playground tds/invalid/camelCase.json ("op": "readProperty"), and 2018 plugfest TDs
    # (events/plugfest/2018-bundang, ...) naming the operation in "rel".
    raw = _thing(
        properties={
            "a": {"type": "number", "forms": [{"href": HREF, "op": ["readProperty"]}]},
            "b": {
                "type": "number",
                "forms": [
                    {"href": HREF, "rel": "readProperty"},
                    {"href": f"{HREF}/obs", "rel": ["observeProperty"]},
                ],
            },
            # "rel" that names no operation: the defaults apply.
            "c": {"type": "number", "forms": [{"href": HREF, "rel": "property"}]},
        },
        actions={"go": {"forms": [{"href": HREF, "rel": "td:invokeAction"}]}},
    )
    td = parse_td(raw)
    assert [f.op for f in td.properties["a"].forms] == ["readproperty"]
    assert [f.op for f in td.properties["b"].forms] == ["readproperty", "observeproperty"]
    assert [f.op for f in td.properties["c"].forms] == ["readproperty", "writeproperty"]
    assert [f.op for f in td.actions["go"].forms] == ["invokeaction"]


# --------------------------------------------------------------------------------------------
# data schemas


@pytest.mark.parametrize(
    "quirk",
    [{"writeable": False}, {"readonly": True}, {"writable": False}],
    ids=["writeable", "readonly", "writable"],
)
def test_read_only_spellings(quirk: dict[str, Any]) -> None:
    # events/plugfest/2018-bundang/TDs/KETI/keti_iot_sensor1.jsonld ("writeable": false) and
    # data/input_2021/TD/TDs/AllOrgs/fujitsu-sensor/fujitsu-fjsensor.td.jsonld ("readonly").
    td = parse_td(_thing(properties={"co2": _prop(type="number", **quirk)}))
    prop = td.properties["co2"]
    assert prop.readable
    assert not prop.writable


def test_one_of_number_or_sentinel_is_a_number() -> None:
    # data/input_2021/TD/TDs/AllOrgs/echonet-bridge/echonet-homeairconditioner.td.jsonld
    raw = _thing(
        properties={
            "outdoorTemperature": _prop(
                readOnly=True,
                oneOf=[
                    {"type": "number", "unit": "Celsius", "minimum": -127, "maximum": 125},
                    {"type": "string", "enum": ["unmeasurable"]},
                ],
            ),
            # Two real branches: no single type can be told.
            "mixed": _prop(oneOf=[{"type": "integer"}, {"type": "string"}]),
        }
    )
    td = parse_td(raw)
    schema = td.properties["outdoorTemperature"].schema
    assert (schema.type, schema.unit, schema.minimum, schema.maximum) == (
        "number",
        "Celsius",
        -127,
        125,
    )
    # Validation still accepts every branch.
    assert schema_error(schema, "unmeasurable") is None
    assert schema_error(schema, 20.5) is None
    assert schema_error(schema, "hot") is not None
    assert td.properties["mixed"].schema.type is None
    spec = _specs(raw)["outdoorTemperature"]
    assert (spec.platform, spec.device_class, spec.unit) == ("sensor", "temperature", "°C")


# --------------------------------------------------------------------------------------------
# mapping


def _kinds(specs: dict[str, EntitySpec]) -> dict[str, tuple[str, str | None, str | None]]:
    return {name: (s.platform, s.device_class, s.unit) for name, s in specs.items()}


def test_measurements_without_units_get_their_device_class() -> None:
    # events/plugfest/2018-bundang/TDs/KETI/keti_iot_sensor1.jsonld: no units at all.
    raw = _thing(
        properties={
            "temperature": _prop(type="number", writeable=False),
            "humidity": _prop(type="number", writeable=False),
            "co2": _prop(type="number", writeable=False),
            "threshold_temperature": _prop(type="number"),
            # data/input_2018/.../Fujitsu: "RoomMeasuredTemp", "OutdoorMeasuredTemp"
            "OutdoorMeasuredTemp": _prop(type="number", readOnly=True),
            # A colour temperature is no measured temperature.
            "whiteBalanceTemperature": _prop(type="integer", readOnly=True),
            # A unit the TD gives is never overridden.
            "soilTemperature": _prop(type="number", readOnly=True, unit="complicatedUnit"),
        }
    )
    assert _kinds(_specs(raw)) == {
        "temperature": ("sensor", "temperature", "°C"),
        "humidity": ("sensor", "humidity", "%"),
        "co2": ("sensor", "carbon_dioxide", "ppm"),
        "threshold_temperature": ("number", "temperature", "°C"),
        "OutdoorMeasuredTemp": ("sensor", "temperature", "°C"),
        "whiteBalanceTemperature": ("sensor", None, None),
        "soilTemperature": ("sensor", None, "complicatedUnit"),
    }


def test_percent_and_ppm_values_named_by_the_thing() -> None:
    # events/2024.11.Munich/TDs/ECHONET/10humiditySensor.td.jsonld, 5co2Sensor, 6vocSensor:
    # one property "value", the quantity is in the Thing's title.
    for title, unit, device_class in [
        ("humiditySensor", "%", "humidity"),
        ("co2Sensor", "ppm", "carbon_dioxide"),
        ("vocSensor", "ppm", "volatile_organic_compounds_parts"),
    ]:
        raw = {**_thing(properties={"value": _prop(type="number", unit=unit, readOnly=True)})}
        raw["title"] = title
        assert _kinds(_specs(raw))["value"] == ("sensor", device_class, unit)
    # events/2020.06.Online/TDs/Motius/motius-mosense.jsonld: "% r.H." and "ppb".
    raw = _thing(
        properties={
            "humidity": _prop(type="number", unit="% r.H.", readOnly=True),
            "voc": _prop(type="number", unit="ppb", readOnly=True),
        }
    )
    assert _kinds(_specs(raw)) == {
        "humidity": ("sensor", "humidity", "%"),
        "voc": ("sensor", "volatile_organic_compounds_parts", "ppb"),
    }


@pytest.mark.parametrize(
    ("unit", "canonical"),
    [
        ("qudt:degree_centigrade", "°C"),
        ("micrograms per cubic metre", "µg/m³"),
        ("om:second-time", "s"),
        ("Cel", "°C"),
    ],
)
def test_units_seen_in_plugfest_tds(unit: str, canonical: str) -> None:
    assert canonical_unit(unit) == canonical


def test_on_and_dim_make_a_light() -> None:
    # TD 1.1 editor's draft (index.template.html), "Smart Lamp Control": onOff + dim.
    raw = _thing(
        title="Smart Lamp Control",
        properties={
            "onOff": _prop(type="boolean"),
            "dim": _prop(type="integer", minimum=0, maximum=100),
        },
    )
    (light,) = _specs(raw).values()
    assert (light.platform, light.name) == ("light", None)
    assert dict(light.roles) == {"on": "onOff", "brightness": "dim"}


def test_title_says_lamp() -> None:
    # data/input_2022/TD/Ditto/TDs/ditto/floor-lamp-1_Status-LED: untyped, "Colored Lamp".
    raw = _thing(
        title="Colored Lamp",
        properties={"on": _prop(type="boolean"), "color": _prop(type="string")},
    )
    (light,) = _specs(raw).values()
    assert light.platform == "light"
    assert dict(light.roles) == {"on": "on", "color": "color"}
    # data/input_2022/TD/fujitsu-ledbulb: only a brightness, "Fujitsu LED bulb".
    raw = _thing(title="Fujitsu LED bulb", properties={"Brightness": _prop(type="integer")})
    assert _specs(raw)["Brightness"].platform == "light"
    # A sensor whose title merely mentions light stays a sensor.
    raw = _thing(title="Light Intensity Sensor", properties={"lux": _prop(type="number")})
    assert _specs(raw)["lux"].platform == "number"


def test_light_on_off_actions_named_after_the_led() -> None:
    # events/2020.06.Online/TDs/Oracle/oracle-LED_Siemens.json: "LED", ledOn/ledOff actions.
    raw = _thing(
        title="Room light",
        properties={"status": _prop(type="string", readOnly=True)},
        actions={
            "ledOn": {"forms": [{"href": f"{HREF}/on"}]},
            "ledOff": {"forms": [{"href": f"{HREF}/off"}]},
        },
    )
    light = next(s for s in map_thing(parse_td(raw)) if s.platform == "light")
    assert dict(light.roles) == {"turn_on": "ledOn", "turn_off": "ledOff"}


def test_desired_temperature_makes_a_climate() -> None:
    # data/input_2018/testing/.../Panasonic: PanaSimAirConditioner "desiredTemp" + mode.
    raw = _thing(
        title="PanaSimAirConditioner5",
        properties={
            "power": _prop(type="boolean"),
            "operationMode": _prop(type="string", enum=["auto", "cool", "heat"]),
            "desiredTemp": _prop(type="number", minimum=16, maximum=30),
        },
    )
    climate = next(s for s in map_thing(parse_td(raw)) if s.platform == "climate")
    assert dict(climate.roles) == {
        "target_temperature": "desiredTemp",
        "thermostat_mode": "operationMode",
    }


def test_ventilator_is_a_fan() -> None:
    # playground examples/td/16-td-tm-relationships/submodel-ventilator-td-from-tm.td.jsonld
    raw = _thing(
        title="Ventilator Thing",
        properties={"switch": _prop(type="boolean"), "adjustRpm": _prop(type="number")},
    )
    specs = _specs(raw)
    assert specs["switch"].platform == "fan"
    assert dict(specs["switch"].roles) == {"on": "switch"}


def test_empty_href_is_the_base_itself() -> None:
    # data/input_2021/TD/TDs/AllOrgs/philips-hue/lightTD1.td.jsonld (and the TUM daylight
    # sensor): "base" is the resource, the form's href is "".
    raw = _thing(
        base="http://hue.local/api/key/lights/1",
        properties={"lightInformation": {"readOnly": True, "forms": [{"href": ""}]}},
    )
    form = parse_td(raw).properties["lightInformation"].forms[0]
    assert form.target() == URL("http://hue.local/api/key/lights/1")
    # Without a base it is as unusable as any relative href.
    del raw["base"]
    with pytest.raises(WotValidationError) as err:
        parse_td(raw)
    assert err.value.path == "$.properties.lightInformation.forms[0].href"


@pytest.mark.parametrize(
    "raw",
    [
        # playground packages/core/examples/tds/valid/MinimalThing.json
        _thing(),
        # wot-testing data/input_2022/TD/intel-wot-ha/TDs/dir3_link.td.jsonld: links only.
        _thing(links=[{"href": "http://192.0.2.1/td", "rel": "item"}], properties={}),
        # Oracle device models (data/input_2022/TD/Oracle/DMs): "name" and "attributes".
        {"name": "ora_obd2_device_model", "attributes": [{"name": "speed"}]},
    ],
    ids=["minimal", "links-only", "oracle-device-model"],
)
def test_a_td_with_nothing_to_interact_with_is_rejected_by_name(raw: dict[str, Any]) -> None:
    with pytest.raises(WotValidationError) as err:
        parse_td(raw)
    assert err.value.path == "$"
    assert err.value.reason == "no properties, actions or events to interact with"


def test_inline_security_object_with_keys_json_cannot_sort() -> None:
    # Found by mutating the wild TDs: a decoded document never has such keys, a caller's might.
    raw = {**_thing(properties={"p": _prop()}), "security": [{"scheme": "basic", 1: "x", "a": 2}]}
    (name,) = parse_td(raw).security
    assert name.startswith("basic_inline_")


def test_json_ld_node_objects_in_type() -> None:
    # events/2021.03.Online/Results/mjk-onedm/modbus-rtu.td.jsonld: OneDM references.
    onedm = {"@id": "https://onedm.org/playground/#/sdfObject/Voltage", "contentType": "x"}
    raw = _thing(
        **{"@type": ["Thing", {"@id": "saref:Sensor"}]},
        properties={"v": _prop(**{"@type": [onedm, 3], "type": "number", "unit": "V"})},
    )
    td = parse_td(raw)
    assert td.semantic_types == ("Thing", "saref:Sensor")
    assert td.properties["v"].semantic_types == (onedm["@id"],)
    assert _specs(raw)["v"].device_class == "voltage"
