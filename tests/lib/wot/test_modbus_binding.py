"""Modbus forms in every dialect real Thing Descriptions and Thing Models use.

Excerpts are the ones quoted in the project's reference (wot-bindings.md sections 1.4 and 4):
the W3C binding's own examples, the ECLASS PAC2200 TM (w3c/wot-testing), the Siemens catalog
TM (wot-oss/thingmodels POC1000), UA-EdgeTranslator's PAC4200 TD and node-wot's elevator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.thingbridge.wot import (
    TBM_NAMESPACE,
    WotValidationError,
    map_thing,
    parse_td,
)
from custom_components.thingbridge.wot.modbus import ModbusForm, ModbusLink, ScaleFactorRef
from custom_components.thingbridge.wot.modbus.binding import TYPE_WIDTH, XSD_TYPE, ReadLimits

CONTEXT = (
    Path(__file__).resolve().parents[3]
    / "custom_components/thingbridge/wot/contexts/thingbridge-modbus.jsonld"
)


def _form(td: dict[str, Any], name: str = "p") -> ModbusForm:
    parsed = parse_td(td)
    assert not parsed.skipped, parsed.skipped
    form = parsed.properties[name].forms[0].modbus
    assert form is not None
    return form


def _one(prop: dict[str, Any], **thing: Any) -> dict[str, Any]:
    return {"title": "T", **thing, "properties": {"p": prop}}


def test_spec_example_holding_registers() -> None:
    # Binding section 1.4: the spec's first property example.
    form = _form(
        _one(
            {
                "type": "string",
                "readOnly": True,
                "forms": [
                    {
                        "href": "modbus+tcp://127.0.0.1:60000/1/40001?quantity=8",
                        "op": ["readproperty", "writeproperty"],
                        "modv:entity": "HoldingRegister",
                    }
                ],
            }
        )
    )
    assert form.link == ModbusLink(framing="tcp", host="127.0.0.1", port=60000)
    assert (form.unit_id, form.entity, form.address, form.quantity) == (
        1,
        "HoldingRegister",
        40001,
        8,
    )
    assert form.value_type == "string"


def test_spec_read_holding_32bit_with_byte_order() -> None:
    # #example-read-holding-32bit: xsd:int over 2 registers, mostSignificantByte false.
    form = _form(
        _one(
            {
                "type": "integer",
                "forms": [
                    {
                        "href": "modbus+tcp://127.0.0.1:60000/1/1?quantity=2",
                        "modv:function": "readHoldingRegisters",
                        "modv:type": "xsd:int",
                        "modv:mostSignificantByte": False,
                    }
                ],
            }
        )
    )
    assert (form.entity, form.function, form.value_type) == ("HoldingRegister", 3, "int32")
    assert form.most_significant_byte is False
    assert form.most_significant_word is True


@pytest.mark.parametrize(
    ("function", "code", "entity"),
    [
        ("readInputRegisters", 4, "InputRegister"),  # the spec's plural
        ("readInputRegister", 4, "InputRegister"),  # context.jsonld's and node-wot's singular
        ("readHoldingRegister", 3, "HoldingRegister"),
        ("readCoil", 1, "Coil"),
        ("readDiscreteInput", 2, "DiscreteInput"),
        ("writeMultipleHoldingRegister", 16, "HoldingRegister"),
        ("writeSingleCoil", 5, "Coil"),
        ("3", 3, "HoldingRegister"),  # mjk-onedm modbus-rtu.td.jsonld writes numbers as strings
        (4, 4, "InputRegister"),
    ],
)
def test_function_spellings(function: Any, code: int, entity: str) -> None:
    form = _form(
        _one(
            {
                "type": "boolean" if entity in ("Coil", "DiscreteInput") else "integer",
                "forms": [{"href": "modbus+tcp://h:502/1/7", "modv:function": function}],
            }
        )
    )
    assert (form.function, form.entity) == (code, entity)


def test_entity_wins_over_function_and_is_case_insensitive() -> None:
    form = _form(
        _one(
            {
                "type": "integer",
                "forms": [
                    {
                        "href": "modbus+tcp://h/1/7",
                        "modv:entity": "inputregister",
                        "modv:function": "readHoldingRegisters",
                    }
                ],
            }
        )
    )
    assert form.entity == "InputRegister"
    assert form.link.port == 502  # no default in the spec: Modbus TCP's port


def test_eclass_pac2200_tm_dialect() -> None:
    # wot-testing events/2022.06.Online/TD/ECLASS/TMs/pac.tm.jsonld (Excerpt A), placeholders
    # filled: undeclared modbus: prefix, href "/" (drops the base's unit), modbus:offset as the
    # address, byteSeq in the content type, no unit ID but the base's.
    td = {
        "title": "Siemens SENTRON PAC2200",
        "base": "modbus+tcp://192.0.2.10:502/3/",
        "properties": {
            "current-l1": {
                "title": "Current L1",
                "type": "number",
                "unit": "A",
                "@type": ["xsd:float", "eclass:IRDI_0173_1_07_AAV182_001"],
                "forms": [
                    {
                        "href": "/",
                        "contentType": "application/octet-stream;byteSeq=BIG_ENDIAN;length=4",
                        "op": ["readproperty"],
                        "modbus:function": "readHoldingRegisters",
                        "modbus:offset": 13,
                        "modbus:quantity": 2,
                    }
                ],
            }
        },
    }
    # The base's unit is lost by RFC 3986 ("/" replaces the path), as the reference notes:
    # the error says so instead of guessing.
    with pytest.raises(WotValidationError) as err:
        parse_td(td)
    assert err.value.path == "$.properties.current-l1.forms[0].href"
    assert "no unit ID" in err.value.reason
    td["properties"]["current-l1"]["forms"][0]["modbus:unitID"] = 3
    form = _form(td, "current-l1")
    assert (form.unit_id, form.address, form.quantity, form.value_type) == (3, 13, 2, "float32")
    assert (form.most_significant_byte, form.most_significant_word) == (True, True)


def test_wot_oss_siemens_catalog_dialect() -> None:
    # wot-oss/thingmodels siemens POC1000 (Excerpt B): modbus:// scheme, href "/", form-level
    # unitID/address/quantity, modbus:type "number" over 4 registers, pollingTime.
    form = _form(
        {
            "title": "POC1000",
            "base": "modbus://192.0.2.20:502",
            "properties": {
                "OPERATING_HOURS": {
                    "forms": [
                        {
                            "op": ["readproperty", "observeproperty"],
                            "href": "/",
                            "modbus:unitID": 255,
                            "modbus:quantity": 4,
                            "modbus:address": 2578,
                            "modbus:type": "number",
                            "modbus:entity": "HoldingRegister",
                            "modbus:zeroBasedAddressing": False,
                            "modbus:pollingTime": 60000,
                        }
                    ],
                    "title": "Operating Hours over all",
                    "observable": True,
                    "readOnly": True,
                    "type": "number",
                    "unit": "om:second-Time",
                }
            },
        },
        "OPERATING_HOURS",
    )
    assert form.link.framing == "tcp"
    assert (form.unit_id, form.address, form.quantity) == (255, 2578, 4)
    assert form.value_type == "float64"
    assert form.polling_ms == 60000


def test_edge_translator_pac4200_dialect() -> None:
    # UA-EdgeTranslator Samples/pac4200.td.jsonld: base with the unit, href "1?quantity=2",
    # modv:type xsd:float, pollingTime; RFC 3986 keeps the unit when the base ends in "/".
    form = _form(
        {
            "@context": [
                "https://www.w3.org/2022/wot/td/v1.1",
                {"modv": "https://www.w3.org/2019/wot/modbus#"},
            ],
            "title": "PAC4200",
            "base": "modbus+tcp://192.0.2.30:502/1/",
            "properties": {
                "voltage": {
                    "type": "number",
                    "readOnly": True,
                    "forms": [
                        {
                            "href": "1?quantity=2",
                            "op": "readproperty",
                            "modv:type": "xsd:float",
                            "modv:entity": "HoldingRegister",
                            "modv:pollingTime": 1000,
                            "modv:timeout": 2000,
                        }
                    ],
                }
            },
        },
        "voltage",
    )
    assert (form.unit_id, form.address, form.value_type) == (1, 1, "float32")
    assert (form.polling_ms, form.timeout_ms) == (1000, 2000)


def test_node_wot_elevator_dialect() -> None:
    # test-things modbus-elevator.td.jsonld: absolute hrefs, modv undeclared, node-wot's
    # byteSeq and a DataSchema type such as uint16.
    form = _form(
        _one(
            {
                "type": "integer",
                "forms": [
                    {
                        "href": "modbus+tcp://127.0.0.1:8502/1/40001?quantity=2",
                        "op": "readproperty",
                        "modv:entity": "HoldingRegister",
                        "contentType": "application/octet-stream;byteSeq=LITTLE_ENDIAN_BYTE_SWAP",
                    }
                ],
            }
        )
    )
    assert (form.value_type, form.most_significant_byte, form.most_significant_word) == (
        "int32",
        True,
        False,
    )  # CDAB
    form = _form(_one({"type": "uint16", "forms": [{"href": "modbus+tcp://h/1/3"}]}))
    assert (form.value_type, form.quantity) == ("uint16", 1)


def test_prefix_declared_in_context_and_tbm_terms() -> None:
    td = {
        "@context": [
            "https://www.w3.org/2022/wot/td/v1.1",
            {"mb": "https://www.w3.org/2019/wot/modbus", "x": TBM_NAMESPACE},
        ],
        "title": "EM24",
        "base": "modbus+rtu-tcp://192.0.2.40:4196/2/",
        "properties": {
            "p": {
                "type": "number",
                "readOnly": True,
                "forms": [
                    {
                        "href": "18?quantity=2",
                        "mb:entity": "InputRegister",
                        "mb:type": "xsd:int",
                        "mb:mostSignificantWord": False,
                        "x:scale": 0.1,
                        "x:offset": -1,
                        "x:notAvailable": [0x7FFFFFFF],
                    }
                ],
            }
        },
    }
    form = _form(td)
    assert form.link == ModbusLink(framing="rtu-over-tcp", host="192.0.2.40", port=4196)
    assert (form.unit_id, form.address, form.value_type, form.word_order) == (
        2,
        18,
        "int32",
        "little",
    )
    assert (form.scale, form.offset, form.not_available) == (0.1, -1.0, (0x7FFFFFFF,))


def test_tbm_scale_factor_bits_strings_and_aliases() -> None:
    td = {
        "title": "T",
        "base": "modbus+tcp://h:502/1/",
        "properties": {
            "w": {
                "type": "number",
                "forms": [
                    {
                        "href": "40083",
                        "modv:entity": "HoldingRegister",
                        "modv:type": "xsd:short",
                        "tbm:scaleFactor": {"address": 40084, "entity": "HoldingRegister"},
                        "tbm:notAvailable": [32768],
                    }
                ],
            },
            "hz": {
                "type": "number",
                "forms": [
                    {
                        "href": "40085",
                        "modv:type": "xsd:unsignedShort",
                        "modv:multiplier": 0.01,
                        "tbm:scaleFactor": 40086,
                    }
                ],
            },
            "alarm": {
                "type": "boolean",
                "forms": [{"href": "7", "modv:entity": "HoldingRegister", "ex:bitOffset": 3}],
            },
            "mode": {
                "type": "integer",
                "forms": [
                    {
                        "href": "7",
                        "modv:entity": "HoldingRegister",
                        "tbm:bitOffset": 4,
                        "tbm:bitLength": 3,
                    }
                ],
            },
            "name": {
                "type": "string",
                "forms": [{"href": "100?quantity=8", "tbm:stringEncoding": "utf-8"}],
            },
        },
    }
    parsed = parse_td(td)
    assert not parsed.skipped
    forms: dict[str, ModbusForm] = {}
    for name, prop in parsed.properties.items():
        form = prop.forms[0].modbus
        assert form is not None
        forms[name] = form
    assert forms["w"].scale_factor == ScaleFactorRef(40084, "HoldingRegister")
    assert forms["w"].not_available == (32768,)
    assert forms["hz"].scale == 0.01
    assert forms["hz"].scale_factor == ScaleFactorRef(40086, "HoldingRegister")
    assert (forms["alarm"].bit_offset, forms["alarm"].bit_length) == (3, 1)
    assert (forms["mode"].bit_offset, forms["mode"].bit_length) == (4, 3)
    assert (forms["name"].value_type, forms["name"].quantity) == ("string", 8)
    assert forms["name"].string_encoding == "utf-8"


def test_serial_rtu_form() -> None:
    form = _form(
        _one(
            {
                "type": "number",
                "forms": [
                    {
                        "href": "modbus+rtu:///dev/ttyUSB0/5/12?quantity=2",
                        "modv:entity": "InputRegister",
                        "modv:type": "xsd:float",
                        "tbm:baudrate": 2400,
                        "tbm:parity": "even",
                        "tbm:stopbits": 1,
                        "tbm:bytesize": 8,
                    }
                ],
            }
        )
    )
    assert form.link == ModbusLink(
        framing="rtu", device="/dev/ttyUSB0", baudrate=2400, parity="E", stopbits=1, bytesize=8
    )
    assert (form.unit_id, form.address) == (5, 12)


@pytest.mark.parametrize(
    ("form", "path", "reason"),
    [
        (
            {"href": "modbus+tcp://h/1/7", "modv:entity": "Register"},
            "modv:entity",
            "unknown entity",
        ),
        (
            {"href": "modbus+tcp://h/1/7", "modv:function": "readEverything"},
            "modv:function",
            "unknown or unsupported",
        ),
        (
            {"href": "modbus+tcp://h/1/7", "modv:type": "xsd:quaternion"},
            "modv:type",
            "unknown type",
        ),
        ({"href": "modbus+tcp://h/1/70000"}, "href", "outside"),
        ({"href": "modbus+tcp://h/300/7"}, "href", "outside 0..255"),
        ({"href": "modbus+tcp://h/1/7?quantity=200"}, "href", "outside 1..125"),
        (
            {"href": "modbus+tcp://h/1/7?quantity=3", "modv:type": "xsd:float"},
            "href",
            "does not fit float32",
        ),
        ({"href": "modbus+tcp://h/1/7", "tbm:scale": "ten"}, "tbm:scale", "expected a number"),
        ({"href": "modbus+tcp://h/1/7", "tbm:scale": 0}, "tbm:scale", "lose every value"),
        ({"href": "modbus+tcp://h/1/7", "tbm:bitOffset": 16}, "tbm:bitOffset", "outside"),
        ({"href": "modbus+tcp://h/1/7", "tbm:framing": "rtu"}, "tbm:framing", "does not match"),
        (
            {"href": "modbus+tcp://h/1/7", "tbm:stringEncoding": "ebcdic"},
            "tbm:stringEncoding",
            "unknown string encoding",
        ),
        (
            {"href": "modbus+tcp://h/1/7", "modv:mostSignificantWord": "yes"},
            "modv:mostSignificantWord",
            "expected true or false",
        ),
        ({"href": "modbus+tcp://h/x/y/1/7"}, "href", "must be /unitID/address"),
        ({"href": "modbus+tcp://h/1"}, "href", "no address"),
        (
            {"href": "modbus+tcp://h/1/7", "contentType": "application/octet-stream;length=1000"},
            "contentType",
            "outside 1..125",
        ),
        (
            {"href": "modbus+tcp://h/1/7", "contentType": "application/octet-stream;byteSeq=UP"},
            "contentType",
            "unknown byteSeq",
        ),
        (
            {"href": "modbus+tcp://h/1/7", "tbm:scaleFactor": {"entity": "Coil", "address": 3}},
            "tbm:scaleFactor.entity",
            "expected HoldingRegister",
        ),
    ],
)
def test_errors_name_the_member(form: dict[str, Any], path: str, reason: str) -> None:
    td = {
        "title": "T",
        "properties": {
            "p": {"type": "integer", "forms": [form]},
            "ok": {"type": "integer", "forms": [{"href": "modbus+tcp://h/1/1"}]},
        },
    }
    parsed = parse_td(td)
    (skipped,) = parsed.skipped
    assert skipped.path == f"$.properties.p.forms[0].{path}"
    assert reason in skipped.reason
    # Alone, the broken property takes the TD down with the same named error.
    del td["properties"]["ok"]
    with pytest.raises(WotValidationError) as err:
        parse_td(td)
    assert err.value.path == f"$.properties.p.forms[0].{path}"


def test_modbus_thing_maps_to_entities() -> None:
    td = parse_td(
        {
            "title": "Meter",
            "base": "modbus+tcp://h:502/1/",
            "properties": {
                "power": {
                    "type": "number",
                    "unit": "W",
                    "readOnly": True,
                    "forms": [
                        {
                            "href": "52?quantity=2",
                            "modv:entity": "InputRegister",
                            "modv:type": "xsd:float",
                        }
                    ],
                },
                "limit": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 100,
                    "forms": [{"href": "3", "modv:entity": "HoldingRegister"}],
                },
                "relay": {"type": "boolean", "forms": [{"href": "0", "modv:entity": "Coil"}]},
            },
        }
    )
    platforms = {spec.affordance: spec.platform for spec in map_thing(td)}
    assert platforms == {"power": "sensor", "limit": "number", "relay": "switch"}


def test_context_document_defines_every_term() -> None:
    context = json.loads(CONTEXT.read_text())["@context"]
    assert context["tbm"] == TBM_NAMESPACE
    for term in (
        "scale",
        "offset",
        "scaleFactor",
        "notAvailable",
        "bitOffset",
        "bitLength",
        "stringEncoding",
        "framing",
        "baudrate",
        "parity",
        "stopbits",
        "bytesize",
    ):
        assert context[term]["@id"] == f"tbm:{term}"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_TERMS = st.sampled_from(
    [
        "modv:entity",
        "modv:function",
        "modv:type",
        "modv:mostSignificantByte",
        "modv:mostSignificantWord",
        "modv:pollingTime",
        "modv:timeout",
        "modbus:unitID",
        "modbus:address",
        "modbus:quantity",
        "modbus:offset",
        "tbm:scale",
        "tbm:offset",
        "tbm:scaleFactor",
        "tbm:notAvailable",
        "tbm:bitOffset",
        "tbm:bitLength",
        "tbm:stringEncoding",
        "tbm:framing",
        "tbm:baudrate",
        "tbm:parity",
        "contentType",
    ]
)
_HREFS = st.sampled_from(
    [
        "modbus+tcp://h:502/1/7",
        "modbus://h",
        "modbus+rtu:///dev/x/1/2",
        "/",
        "3?quantity=2",
        "modbus+rtu-tcp://[::1]:5020/1/",
        "modbus+tcp://h:99999/1/1",
        "modbus+tcp://h/1/1?quantity=x",
    ]
) | st.text(max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    href=_HREFS,
    members=st.dictionaries(_TERMS, _JSON, max_size=6),
    schema_type=st.sampled_from(["number", "integer", "boolean", "string", "int16", None]),
)
def test_hostile_modbus_forms_raise_only_named_errors(
    href: str, members: dict[str, Any], schema_type: str | None
) -> None:
    prop: dict[str, Any] = {"forms": [{"href": href, **members}]}
    if schema_type is not None:
        prop["type"] = schema_type
    td = {"title": "T", "base": "modbus+tcp://h:502/1/", "properties": {"p": prop}}
    try:
        parsed = parse_td(td)
    except WotValidationError as err:
        path = err.path
        parsed = None
    else:
        path = "$"
    assert path.startswith("$.") or path == "$"
    if parsed is None:
        return
    form = parsed.properties["p"].forms[0].modbus
    if form is not None:
        assert 0 <= form.address <= 0xFFFF
        assert 1 <= form.quantity <= 125
        assert 0 <= form.unit_id <= 255


def test_read_only_tables_are_not_written() -> None:
    td = parse_td(
        {
            "title": "Meter",
            "base": "modbus+tcp://h:502/1/",
            "properties": {
                # No readOnly: the default ops are read and write, but an input register
                # cannot be written, so it is a sensor, not a number.
                "power": {
                    "type": "number",
                    "forms": [{"href": "52?quantity=2", "modv:function": "readInputRegisters"}],
                },
                "alarm": {
                    "type": "boolean",
                    "forms": [{"href": "3", "modv:entity": "DiscreteInput"}],
                },
            },
        }
    )
    assert not td.properties["power"].writable
    assert {spec.affordance: spec.platform for spec in map_thing(td)} == {
        "power": "sensor",
        "alarm": "binary_sensor",
    }
    with pytest.raises(WotValidationError) as err:
        parse_td(
            _one(
                {
                    "type": "number",
                    "forms": [
                        {
                            "href": "modbus+tcp://h/1/4",
                            "op": "writeproperty",
                            "modv:entity": "InputRegister",
                        }
                    ],
                }
            )
        )
    assert err.value.path == "$.properties.p.forms[0].op"


def test_read_limits_are_thing_level_terms() -> None:
    """``tbm:maxSpan``/``tbm:maxGap`` say how the device's registers may be read together."""
    prop = {
        "type": "number",
        "forms": [{"href": "modbus+tcp://127.0.0.1:502/1/0?quantity=2", "modv:type": "xsd:float"}],
    }
    assert parse_td(_one(prop)).modbus_limits == ReadLimits(max_span=125, max_gap=15)
    limits = parse_td(_one(prop, **{"tbm:maxSpan": 80, "tbm:maxGap": "40"})).modbus_limits
    assert limits == ReadLimits(max_span=80, max_gap=40)
    # Any prefix the context maps to ThingBridge's namespace.
    own = {"@context": ["https://www.w3.org/2022/wot/td/v1.1", {"x": TBM_NAMESPACE}]}
    assert parse_td(_one(prop, **own, **{"x:maxSpan": 10})).modbus_limits.max_span == 10
    # A TD without Modbus forms is not concerned.
    http = {"type": "number", "forms": [{"href": "http://127.0.0.1/p"}]}
    assert parse_td(_one(http, **{"tbm:maxSpan": "junk"})).modbus_limits == ReadLimits()


@pytest.mark.parametrize(
    ("term", "value", "reason"),
    [
        ("tbm:maxSpan", 200, "200 is outside 1..125"),
        ("tbm:maxSpan", 0, "0 is outside 1..125"),
        ("tbm:maxGap", -1, "-1 is outside 0..123"),
        ("tbm:maxGap", "many", "expected an integer"),
    ],
)
def test_read_limits_out_of_range_are_refused_by_name(term: str, value: Any, reason: str) -> None:
    prop = {
        "type": "number",
        "forms": [{"href": "modbus+tcp://127.0.0.1:502/1/0?quantity=2", "modv:type": "xsd:float"}],
    }
    with pytest.raises(WotValidationError) as caught:
        parse_td(_one(prop, **{term: value}))
    assert caught.value.path == f"$.{term}"
    assert reason in caught.value.reason


@pytest.mark.parametrize("kind", sorted(XSD_TYPE))
def test_the_modv_type_thingbridge_writes_parses_back_to_its_value_type(kind: str) -> None:
    """The converters and the register form write ``XSD_TYPE``; the binding reads it back."""
    width = TYPE_WIDTH[kind]
    schema = "boolean" if kind == "boolean" else "number"
    form = _form(
        _one(
            {
                "type": schema,
                "forms": [
                    {
                        "href": f"modbus+tcp://127.0.0.1:502/1/0?quantity={width}",
                        "modv:entity": "HoldingRegister",
                        "modv:type": XSD_TYPE[kind],
                    }
                ],
            }
        )
    )
    assert (form.value_type, form.quantity) == (kind, width)
