"""Thing Description parsing: actions, events, security, WebThings links, legacy shapes."""

from __future__ import annotations

from typing import Any

import pytest
from yarl import URL

from custom_components.thingbridge.wot import WotValidationError, parse_td
from custom_components.thingbridge.wot.td import MAX_METADATA_LENGTH

BASE = "http://thing.test/"


def _td(**members: Any) -> dict[str, Any]:
    return {"title": "T", "base": BASE, **members}


def test_actions_events_and_thing_forms() -> None:
    td = parse_td(
        _td(
            actions={
                "fade": {
                    "title": "Fade",
                    "input": {"type": "object", "required": ["level"],
                              "properties": {"level": {"type": "integer"}}},
                    "output": {"type": "string"},
                    "safe": True, "idempotent": "true", "synchronous": False,
                    "forms": [{"href": "actions/fade"},
                              {"href": "actions/fade/{id}", "op": ["queryaction", "cancelaction"]}],
                },
            },
            events={
                "overheat": {"data": {"type": "number", "unit": "°C"},
                             "subscription": {"type": "string"},
                             "forms": [{"href": "events/overheat", "subprotocol": "sse"}]},
            },
            forms=[{"href": "all", "op": ["readallproperties", "writeallproperties"]},
                   {"href": "bad", "op": "readproperty"}],
        )
    )  # fmt: skip
    fade = td.actions["fade"]
    assert (fade.label, fade.safe, fade.idempotent, fade.synchronous) == ("Fade", True, True, False)
    assert fade.input is not None
    assert fade.input.required == ("level",)
    assert fade.output is not None
    assert fade.output.type == "string"
    assert [(f.op, f.method) for f in fade.forms] == [
        ("invokeaction", "POST"),
        ("queryaction", "GET"),
        ("cancelaction", "DELETE"),
    ]
    assert fade.form_for("cancelaction") is not None
    assert fade.forms_for("queryaction")[0].target({"id": 7}) == URL(BASE + "actions/fade/7")
    event = td.events["overheat"]
    assert event.data is not None
    assert event.data.unit == "°C"
    assert event.subscription is not None
    assert [(f.op, f.method, f.subprotocol) for f in event.forms] == [
        ("subscribeevent", None, "sse"),
        ("unsubscribeevent", None, "sse"),
    ]
    # Thing-level forms keep only Thing-level operations.
    assert [(f.op, f.method) for f in td.forms] == [
        ("readallproperties", "GET"),
        ("writeallproperties", "PUT"),
    ]
    assert td.form_for("writeallproperties") is not None
    assert td.form_for("observeallproperties") is None


def test_security_definitions_and_combos() -> None:
    td = parse_td(
        _td(
            securityDefinitions={
                "basic_sc": {"scheme": "basic", "in": "header"},
                "bearer_sc": {"scheme": "Bearer", "format": "jwt", "alg": "ES256",
                              "authorization": "https://auth.test/"},
                "key_sc": {"scheme": "apikey", "in": "query", "name": "key"},
                "either": {"scheme": "combo", "oneOf": ["bearer_sc", "basic_sc"]},
                "both": {"scheme": "combo", "allOf": ["basic_sc", "key_sc"]},
            },
            security=["either"],
            properties={"p": {"forms": [{"href": "p", "security": "both"}]}},
        )
    )  # fmt: skip
    assert td.security == ("either",)
    assert td.schemes == ("bearer",)
    assert td.requires_credentials
    bearer = td.security_definitions["bearer_sc"]
    assert (bearer.scheme, bearer.format, bearer.alg) == ("bearer", "jwt", "ES256")
    key = td.security_definitions["key_sc"]
    assert (key.location, key.name) == ("query", "key")
    assert td.properties["p"].forms[0].security == ("both",)

    nosec = parse_td(_td(properties={"p": {"forms": [{"href": "p"}]}}))
    assert nosec.schemes == ("nosec",)
    assert not nosec.requires_credentials


@pytest.mark.parametrize(
    ("members", "path", "reason"),
    [
        ({"securityDefinitions": []}, "$.securityDefinitions", "expected an object"),
        ({"securityDefinitions": {"s": 1}}, "$.securityDefinitions.s", "expected an object"),
        ({"securityDefinitions": {"s": {}}}, "$.securityDefinitions.s.scheme", "missing"),
        ({"security": "nope"}, "$.security", "undefined security definition 'nope'"),
        ({"securityDefinitions": {"c": {"scheme": "combo", "oneOf": ["x"]}}},
         "$.securityDefinitions.c", "combo names undefined definition 'x'"),
        ({"title": ""}, "$.title", "missing or empty"),
        ({"properties": 3}, "$.properties", "expected an object"),
        ({"properties": [3]}, "$.properties[0]", "expected an object"),
        ({"properties": [{"type": "number"}]}, "$.properties[0].name", "missing"),
    ],
)  # fmt: skip
def test_td_level_errors_name_the_member(members: dict[str, Any], path: str, reason: str) -> None:
    with pytest.raises(WotValidationError) as err:
        parse_td({**_td(properties={"p": {"forms": [{"href": "p"}]}}), **members})
    assert err.value.path == path
    assert reason in err.value.reason
    with pytest.raises(WotValidationError, match=r"^\$: a Thing Description must be a JSON object"):
        parse_td([])


def test_broken_affordances_are_skipped_with_their_path() -> None:
    td = parse_td(
        _td(
            properties={
                "ok": {"forms": [{"href": "ok"}]},
                "noforms": {"type": "number"},
                "emptyforms": {"forms": []},
                "badhref": {"forms": [{"href": 5}]},
                "scheme": {"forms": [{"href": "coap://x/p"}]},
                "notobj": 7,
            },
            actions={"a": "x"},
            events={"e": {"forms": ["x"]}},
        )
    )  # fmt: skip
    assert list(td.properties) == ["ok"]
    assert {err.path for err in td.skipped} == {
        "$.properties.noforms.forms",
        "$.properties.emptyforms.forms",
        "$.properties.badhref.forms[0].href",
        "$.properties.scheme.forms[0].href",
        "$.properties.notobj",
        "$.actions.a",
        "$.events.e.forms[0]",
    }
    # Everything broken: the first reason is raised.
    with pytest.raises(WotValidationError, match=r"\$\.properties\.x\.forms: missing"):
        parse_td(_td(properties={"x": {"type": "number"}}))


def test_a_form_that_works_beside_a_broken_one() -> None:
    td = parse_td(
        _td(properties={"p": {"forms": [{"href": "coap://x/p"}, {"href": "http://h/p"}]}})
    )
    assert [f.target() for f in td.properties["p"].forms] == [URL("http://h/p")] * 2


def test_webthings_dialect() -> None:
    td = parse_td(
        {
            "@context": "https://webthings.io/schemas",
            "@type": ["OnOffSwitch"],
            "name": "Switch",
            "properties": {
                "on": {"type": "boolean", "@type": "OnOffProperty",
                       "links": [{"rel": "property", "href": "/things/sw/properties/on"}]},
            },
            "actions": {"toggle": {"links": [{"rel": "action", "href": "/things/sw/actions/toggle"}]}},
            "events": {"overheated": {"type": "number", "unit": "degree celsius",
                                      "links": [{"rel": "event", "href": "/things/sw/events/overheated"}]}},
            "links": [
                {"rel": "properties", "href": "/things/sw/properties"},
                {"rel": "alternate", "mediaType": "text/html", "href": "/things/sw"},
                {"rel": "alternate", "href": "ws://gw.test/things/sw"},
            ],
        },
        source_url="http://gw.test/things/sw",
    )  # fmt: skip
    assert td.title == "Switch"
    assert td.dialect == "webthings"
    assert td.websocket == URL("ws://gw.test/things/sw")
    assert td.properties["on"].forms[0].target() == URL("http://gw.test/things/sw/properties/on")
    assert td.properties["on"].writable
    event = td.events["overheated"]
    assert event.data is not None
    assert event.data.unit == "degree celsius"
    assert td.actions["toggle"].forms[0].method == "POST"
    with pytest.raises(WotValidationError, match="expected an array of links"):
        parse_td({"title": "T", "properties": {"p": {"links": {}}}}, source_url="http://h/")


def test_legacy_and_tolerated_shapes() -> None:
    td = parse_td(
        {
            "name": "Old",
            "base": "/api/",
            "properties": [
                {"name": "temp", "valueType": {"type": ["number", "null"]}, "writable": False,
                 "form": {"href": "temp"}},
                {"id": "level", "type": "integer", "minimum": "0", "maximum": "10",
                 "hrefs": ["level"], "enums": [0, 5, 10]},
            ],
            "titles": {"de": "Alt"},
            "descriptions": {"en": "An old TD"},
            "schema:manufacturer": {"name": "ACME"},
            "model": "M1",
            "serialNumber": "42",
            "version": {"instance": "1.2"},
            "support": "mailto:help@example.com",
        },
        source_url="http://legacy.test/td",
    )  # fmt: skip
    assert td.description == "An old TD"
    temp = td.properties["temp"]
    assert temp.schema.type == "number"
    assert temp.forms[0].target() == URL("http://legacy.test/api/temp")
    level = td.properties["level"].schema
    assert (level.minimum, level.maximum, level.enum) == (0.0, 10.0, (0, 5, 10))
    assert (td.manufacturer, td.model, td.serial_number, td.sw_version) == (
        "ACME",
        "M1",
        "42",
        "1.2",
    )
    assert td.support == "mailto:help@example.com"


def test_uri_variables_and_headers() -> None:
    td = parse_td(
        _td(
            uriVariables={"unit": {"type": "string", "enum": ["c", "f"]}},
            properties={
                "t": {"uriVariables": {"unit": {"type": "string"}, "bad": 1},
                      "forms": [{"href": "t{?unit}",
                                 "htv:headers": [{"htv:fieldName": "X-K", "htv:fieldValue": "v"},
                                                 "junk"]}]},
                "b": {"type": "boolean", "forms": [{"href": "b{?on}"}]},
            },
        )
    )  # fmt: skip
    assert set(td.uri_variables) == {"unit"}
    prop = td.properties["t"]
    assert set(prop.uri_variables) == {"unit"}
    form = prop.forms[0]
    assert form.is_template
    assert form.headers == (("X-K", "v"),)
    assert form.target({"unit": "c"}) == URL(BASE + "t?unit=c")
    assert form.target() == URL(BASE + "t")
    assert td.properties["b"].forms[0].target({"on": True}) == URL(BASE + "b?on=true")
    with pytest.raises(WotValidationError, match=r"uriVariables: expected an object"):
        parse_td(_td(properties={"p": {"uriVariables": [], "forms": [{"href": "p"}]}}))


def test_multi_op_form_with_a_method_keeps_it_only_where_it_fits() -> None:
    td = parse_td(
        _td(
            properties={
                "p": {"forms": [{"href": "p", "op": ["readproperty", "writeproperty"],
                                 "htv:methodName": "put"}]},
                "o": {"observable": True,
                      "forms": [{"href": "o", "op": ["observeproperty"], "htv:methodName": "get"}]},
            }
        )
    )  # fmt: skip
    assert [(f.op, f.method) for f in td.properties["p"].forms] == [
        ("readproperty", "GET"),
        ("writeproperty", "PUT"),
    ]
    observe = td.properties["o"]
    assert observe.observable
    assert observe.observable_form is not None
    assert observe.observable_form.method == "GET"
    assert not observe.readable


@pytest.mark.parametrize(
    ("prop", "path"),
    [
        ({"type": "string", "minLength": "nan", "forms": [{"href": "p"}]}, "$.properties.p.minLength"),
        ({"type": "integer", "maximum": 1e999, "forms": [{"href": "p"}]}, "$.properties.p.maximum"),
        ({"type": "integer", "minimum": 10**400, "forms": [{"href": "p"}]}, "$.properties.p.minimum"),
        ({"forms": [{"href": "http://h/{?x:abc}"}]}, "$.properties.p.forms[0].href"),
    ],
)  # fmt: skip
def test_hostile_numbers_and_templates_are_named_errors(prop: dict[str, Any], path: str) -> None:
    with pytest.raises(WotValidationError) as err:
        parse_td(_td(properties={"p": prop}))
    assert err.value.path == path


def test_credentials_needed_only_when_no_branch_works_without() -> None:
    defs = {
        "basic_sc": {"scheme": "basic"},
        "nosec_sc": {"scheme": "nosec"},
        "either": {"scheme": "combo", "oneOf": ["basic_sc", "nosec_sc"]},
        "both": {"scheme": "combo", "allOf": ["basic_sc", "nosec_sc"]},
    }
    prop = {"p": {"forms": [{"href": "p"}]}}
    for security, needed in (("either", False), ("both", True), ("basic_sc", True)):
        td = parse_td(_td(securityDefinitions=defs, security=security, properties=prop))
        assert td.requires_credentials is needed, security


def test_device_metadata_under_any_schema_org_prefix() -> None:
    """Issue 10: the manufacturer a TD states, whatever prefix its ``@context`` gives schema.org.

    Objects name it by ``name`` under any of those prefixes; full IRIs work too; overlong
    values are cut to :data:`MAX_METADATA_LENGTH`.
    """
    properties = {"x": {"type": "string", "forms": [{"href": "http://h.test/x"}]}}
    td = parse_td(
        {
            "@context": ["https://www.w3.org/2022/wot/td/v1.1", {"sdo": "https://schema.org/"}],
            "title": "T",
            "sdo:manufacturer": {"sdo:name": "ACME"},
            "https://schema.org/model": "X-1",
            "sdo:softwareVersion": "2.0.1",
            "hardwareVersion": "rev B",
            "properties": properties,
        }
    )
    assert (td.manufacturer, td.model, td.sw_version, td.hw_version) == (
        "ACME",
        "X-1",
        "2.0.1",
        "rev B",
    )
    long = parse_td({"title": "T", "manufacturer": "M" * 10_000, "properties": properties})
    assert long.manufacturer == "M" * MAX_METADATA_LENGTH
    # A prefix bound to something else is not schema.org.
    other = parse_td(
        {
            "@context": ["https://www.w3.org/2022/wot/td/v1.1", {"sdo": "https://example.com/"}],
            "title": "T",
            "sdo:manufacturer": "Nope",
            "properties": properties,
        }
    )
    assert other.manufacturer is None
