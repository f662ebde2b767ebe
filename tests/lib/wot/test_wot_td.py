"""Thing Description parsing: defaults, href resolution and named errors."""

from __future__ import annotations

import gc
import json
import tracemalloc
import types
from typing import Any

import pytest
from yarl import URL

from custom_components.thingbridge.wot import WotLimitError, WotValidationError, parse_td
from custom_components.thingbridge.wot.td import (
    DEPTH_MARKER,
    MAX_AFFORDANCES,
    MAX_TD_BYTES,
    MAX_TD_DEPTH,
    clip_depth,
)
from custom_components.thingbridge.wot.units import canonical_unit
from simulator.things import make_sensor
from simulator.wot import thing_description


def _td(**props: Any) -> dict[str, Any]:
    return {"title": "T", "properties": props}


def test_relative_hrefs_resolve_against_base_then_source() -> None:
    td = parse_td(
        {"title": " Lamp ", "base": "http://dev.local:8080/api/", "properties": {
            "on": {"type": "boolean", "forms": [{"href": "props/on"}]},
            "abs": {"type": "boolean", "forms": [{"href": "/abs"}]},
        }},
        source_url="http://elsewhere/td",
    )  # fmt: skip
    assert td.title == "Lamp"
    assert td.properties["on"].forms[0].target() == URL("http://dev.local:8080/api/props/on")
    assert td.properties["abs"].forms[0].target() == URL("http://dev.local:8080/abs")

    # No base: relative to where the TD was fetched (RFC 3986 section 5.2).
    td = parse_td(_td(x={"forms": [{"href": "x"}]}), source_url="http://h/things/t")
    assert td.properties["x"].forms[0].target() == URL("http://h/things/x")

    # A relative base is itself resolved against the source.
    td = parse_td({**_td(x={"forms": [{"href": "x"}]}), "base": "/api/"}, source_url="http://h/td")
    assert td.properties["x"].forms[0].target() == URL("http://h/api/x")


def test_default_ops_and_content_type() -> None:
    td = parse_td(
        _td(
            rw={"type": "number", "forms": [{"href": "http://h/rw"}]},
            ro={"type": "number", "readOnly": True, "forms": [{"href": "http://h/ro"}]},
            wo={"type": "number", "writeOnly": True, "forms": [{"href": "http://h/wo"}]},
            ex={"forms": [{"href": "http://h/ex", "op": "readproperty", "contentType": "text/plain",
                           "htv:methodName": "POST"}]},
        )
    )  # fmt: skip
    # A multi-op form is split into one form per operation with the default methods.
    assert [(f.op, f.method) for f in td.properties["rw"].forms] == [
        ("readproperty", "GET"),
        ("writeproperty", "PUT"),
    ]
    assert [f.op for f in td.properties["ro"].forms] == ["readproperty"]
    assert [f.op for f in td.properties["wo"].forms] == ["writeproperty"]
    assert td.properties["wo"].form_for("readproperty") is None
    ex = td.properties["ex"].forms[0]
    assert (ex.op, ex.content_type, ex.method) == ("readproperty", "text/plain", "POST")
    assert td.properties["rw"].forms[0].content_type == "application/json"


def test_schema_members() -> None:
    td = parse_td(
        _td(level={"type": "integer", "title": "Level", "unit": "percent", "minimum": 0,
                   "maximum": 100, "enum": [0, 50, 100], "observable": True, "@type": "LevelProperty",
                   "forms": [{"href": "http://h/l"}]})
    )  # fmt: skip
    prop = td.properties["level"]
    assert prop.title == "Level"
    assert prop.observable
    assert prop.semantic_types == ("LevelProperty",)
    assert prop.schema.minimum == 0.0
    assert prop.schema.maximum == 100.0
    assert prop.schema.enum == (0, 50, 100)


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ([], "$"),
        ({"properties": {}}, "$.title"),
        ({"title": "  "}, "$.title"),
        ({"title": "T", "base": 5}, "$.base"),
        ({"title": "T", "properties": "x"}, "$.properties"),
        (_td(p=[]), "$.properties.p"),
        (_td(p={"forms": []}), "$.properties.p.forms"),
        (_td(p={"forms": ["x"]}), "$.properties.p.forms[0]"),
        (_td(p={"forms": [{"href": 1}]}), "$.properties.p.forms[0].href"),
        (_td(p={"forms": [{"href": "rel"}]}), "$.properties.p.forms[0].href"),
        (_td(p={"forms": [{"href": "mqtt://b/x"}]}), "$.properties.p.forms[0].href"),
        (_td(p={"forms": [{"href": "http://[bad"}]}), "$.properties.p.forms[0].href"),
        (_td(p={"forms": [{"href": "http://h/", "op": 3}]}), "$.properties.p.forms[0].op"),
        (_td(p={"type": {"a": 1}, "forms": [{"href": "http://h/"}]}), "$.properties.p.type"),
        (_td(p={"minimum": "zero", "forms": [{"href": "http://h/"}]}), "$.properties.p.minimum"),
        (_td(p={"maximum": True, "forms": [{"href": "http://h/"}]}), "$.properties.p.maximum"),
        (_td(p={"enum": "a", "forms": [{"href": "http://h/"}]}), "$.properties.p.enum"),
    ],
)
def test_errors_name_the_member(raw: Any, path: str) -> None:
    with pytest.raises(WotValidationError) as err:
        parse_td(raw)
    assert err.value.path == path
    assert str(err.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("unit", "canonical"),
    [
        ("°C", "°C"), ("Celsius", "°C"), ("degree celsius", "°C"), ("om2:degreeCelsius", "°C"),
        ("http://qudt.org/vocab/unit/DEG_C", "°C"), ("qudt:DEG_F", "°F"), ("percent", "%"),
        ("%", "%"), ("kWh", "kWh"), ("kilowatt hour", "kWh"), ("Watt", "W"), ("lux", "lx"),
        ("http://www.ontology-of-units-of-measure.org/resource/om-2/kilowattHour", "kWh"),
        ("furlongs", None), ("", None), (None, None),
    ],
)  # fmt: skip
def test_canonical_units(unit: str | None, canonical: str | None) -> None:
    assert canonical_unit(unit) == canonical


# --------------------------------------------------------------------------------------------
# limits against hostile TDs


def _props(count: int) -> dict[str, Any]:
    return {
        f"p{i}": {"type": "number", "forms": [{"href": f"http://h/p{i}"}]} for i in range(count)
    }


def test_affordances_are_capped_with_a_named_error() -> None:
    """Over MAX_AFFORDANCES, the TD is refused naming how many there were and the cap."""
    assert len(parse_td(_td(**_props(MAX_AFFORDANCES))).properties) == MAX_AFFORDANCES
    raw = {
        "title": "T",
        "properties": _props(200),
        "actions": {"a": {"forms": [{"href": "http://h/a"}]}},
        "events": [{"name": f"e{i}", "forms": [{"href": f"http://h/e{i}"}]} for i in range(99)],
    }
    with pytest.raises(WotLimitError) as caught:
        parse_td(raw)
    assert (caught.value.count, caught.value.limit) == (300, MAX_AFFORDANCES)
    assert str(caught.value) == (
        f"$: 300 properties, actions and events; at most {MAX_AFFORDANCES} are supported"
    )


def test_a_megabyte_of_empty_properties_is_refused_before_it_is_built() -> None:
    """The attack: a 1 MiB TD of ~70,000 empty properties cost ~150 MB before it was refused.

    Now it is refused by counting, and parsing allocates next to nothing (measured with
    tracemalloc: memory, not time).
    """
    raw = {"title": "T", "properties": {f"{i:x}": {} for i in range(70_000)}}
    assert len(json.dumps(raw)) <= MAX_TD_BYTES
    tracemalloc.start()
    try:
        with pytest.raises(WotLimitError, match="70000 properties, actions and events"):
            parse_td(raw)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"v": value}
    return value


def test_absurd_nesting_is_refused_and_clipped() -> None:
    """A vendor member 15,000 levels deep (which json.loads accepts) is refused by name."""
    deep = json.loads('{"a":' * 15_000 + "1" + "}" * 15_000)
    with pytest.raises(WotLimitError, match=f"JSON nested deeper than {MAX_TD_DEPTH} levels"):
        parse_td({**_td(**_props(1)), "vendor:extra": deep})
    # The TD object is level 1, its member's value level 2: this reaches level 100 ...
    parse_td({**_td(**_props(1)), "vendor:extra": _nested(MAX_TD_DEPTH - 1)})
    # ... and this 101.
    with pytest.raises(WotLimitError):
        parse_td({**_td(**_props(1)), "vendor:extra": [_nested(MAX_TD_DEPTH - 1)]})
    # clip_depth makes any decoded value safe for recursive walkers.
    clipped = clip_depth(deep, 3)
    assert clipped == {"a": {"a": {"a": DEPTH_MARKER}}}
    assert clip_depth([1, {"b": [2]}], 2) == [1, {"b": DEPTH_MARKER}]
    assert clip_depth("text", 0) == "text"


def _containers_held(root: object) -> dict[str, int]:
    """The dicts and lists reachable from ``root`` (classes, modules and functions not walked)."""
    seen: set[int] = set()
    counts = {"dict": 0, "list": 0}
    stack = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, type | types.ModuleType | types.FunctionType):
            continue
        seen.add(id(item))
        if type(item) in (dict, list):
            counts[type(item).__name__] += 1
        stack.extend(gc.get_referents(item))
    return counts


def test_a_parsed_td_keeps_its_document_compactly() -> None:
    """A directory keeps thousands of TDs: no decoded document, no empty dict of its own each.

    The document still reads back as it was decoded (diagnostics show it).
    """
    sensor = thing_description(make_sensor(), "http://127.0.0.1:8580/")
    doc = json.loads(json.dumps(sensor))
    td = parse_td(doc, source_url="http://127.0.0.1:8580/things/sensor")
    assert td.raw == doc
    assert dict(td.raw.items()) == doc
    assert (
        td.raw["properties"]["temperature"]["unit"] == sensor["properties"]["temperature"]["unit"]
    )
    assert td.raw.get("links") is None
    assert "title" in td.raw
    assert len(td.raw) == len(doc)
    assert list(td.raw) == list(doc)
    assert clip_depth(td.raw) == doc
    # The lists of the document (forms, ops, @context) are not held. The dicts left: the
    # properties, events and security definitions by name, yarl's caches of the base and
    # source URLs, and the empty mapping all TDs share.
    assert _containers_held(td) == {"dict": 6, "list": 0}
    # Absent members share one empty mapping.
    other = parse_td(_td(x={"forms": [{"href": "x"}]}), source_url="http://h/t")
    assert td.uri_variables is other.uri_variables is other.actions is other.events
    # A document built in Python that JSON would change (a tuple, a NaN) is kept as given.
    built = {"title": "T", "tags": ("a",), "properties": {"x": {"forms": [{"href": "x"}]}}}
    assert parse_td(built, source_url="http://h/t").raw is built
