"""Thing Models (TD 1.1 section 9): placeholders, tm:extends, tm:ref, tm:optional, limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from custom_components.thingbridge.wot import (
    ProfileLibrary,
    ThingModelError,
    WotValidationError,
    instantiate,
    load_thing_model,
    parse_td,
    placeholders,
)
from custom_components.thingbridge.wot.thing_model import (
    MAX_EXTENDS,
    MAX_NODES,
    MAX_TD_OUTPUT_BYTES,
    MAX_TM_BYTES,
    MAX_TM_DEPTH,
    ThingModelLimitError,
    merge_patch,
)

CONTEXT = ["https://www.w3.org/2022/wot/td/v1.1", {"tm": "https://www.w3.org/2019/wot/tm"}]


def _tm(**members: Any) -> dict[str, Any]:
    return {"@context": CONTEXT, "@type": "tm:ThingModel", "title": "Test", **members}


def _write(folder: Path, name: str, document: Any) -> Path:
    path = folder / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_spec_placeholder_example_restores_types() -> None:
    """The spec's example: a whole-value placeholder takes the value's type, an embedded one is text."""
    tm = load_thing_model(
        _tm(
            title="Thermostate No. {{THERMOSTATE_NUMBER}}",
            version="{{VERSION_INFO}}",
            properties={
                "temperature": {
                    "type": "number",
                    "maximum": "{{THERMOSTATE_TEMPERATURE_MAXIMUM}}",
                    "forms": [{"href": "http://x/{{THERMOSTATE_NUMBER}}/t"}],
                }
            },
        )
    )
    assert placeholders(tm) == {
        "THERMOSTATE_NUMBER",
        "THERMOSTATE_TEMPERATURE_MAXIMUM",
        "VERSION_INFO",
    }
    td = instantiate(
        tm,
        {
            "THERMOSTATE_NUMBER": 4,
            "THERMOSTATE_TEMPERATURE_MAXIMUM": 47.7,
            "VERSION_INFO": {"instance": "xyz", "model": "ABC"},
        },
    )
    assert td["title"] == "Thermostate No. 4"
    assert td["properties"]["temperature"]["maximum"] == 47.7
    assert td["properties"]["temperature"]["forms"][0]["href"] == "http://x/4/t"
    assert td["version"] == {"instance": "xyz", "model": "ABC"}
    # Generation steps: no tm: type or context, a type link, an id, security defaults.
    assert "@type" not in td
    assert td["@context"] == "https://www.w3.org/2022/wot/td/v1.1"
    assert td["id"].startswith("urn:uuid:")
    assert td["security"] == "nosec_sc"
    assert td["securityDefinitions"] == {"nosec_sc": {"scheme": "nosec"}}
    parsed = parse_td(td)
    assert parsed.properties["temperature"].schema.maximum == 47.7


def test_embedded_non_string_values_are_json_text() -> None:
    tm = load_thing_model(_tm(description="on={{ON}} list={{L}} s={{S}}"))
    td = instantiate(tm, {"ON": True, "L": [1, 2], "S": "x"})
    assert td["description"] == "on=true list=[1, 2] s=x"


def test_missing_placeholders_are_all_named() -> None:
    tm = load_thing_model(_tm(description="{{A}} {{B}}", base="http://{{C}}/"))
    with pytest.raises(ThingModelError, match="placeholder\\(s\\) B, C") as err:
        instantiate(tm, {"A": 1})
    assert isinstance(err.value, WotValidationError)


def test_id_is_stable_and_kept() -> None:
    tm = load_thing_model(_tm(description="{{A}}"))
    assert instantiate(tm, {"A": 1})["id"] == instantiate(tm, {"A": 1})["id"]
    assert instantiate(tm, {"A": 1})["id"] != instantiate(tm, {"A": 2})["id"]
    assert instantiate(tm, {"A": 1}, thing_id="urn:x")["id"] == "urn:x"
    assert instantiate(load_thing_model(_tm(id="urn:own")), {})["id"] == "urn:own"


def test_not_a_thing_model() -> None:
    with pytest.raises(ThingModelError, match=r"\$\['@type'\]: does not contain tm:ThingModel"):
        load_thing_model({"@context": CONTEXT, "@type": "Thing", "title": "x"})
    with pytest.raises(ThingModelError, match="must be a JSON object"):
        load_thing_model([1])  # type: ignore[arg-type]


def test_placeholder_in_a_name_is_refused() -> None:
    with pytest.raises(ThingModelError, match=r"properties\[\"p\{\{X\}\}\"\]: placeholders"):
        load_thing_model(_tm(properties={"p{{X}}": {"type": "number"}}))


def test_tm_ref_merge_patch_and_null_deletes() -> None:
    tm = load_thing_model(
        _tm(
            properties={
                "base": {"type": "number", "unit": "V", "minimum": 0, "readOnly": True},
                "copy": {"tm:ref": "#/properties/base", "unit": "A", "minimum": None},
            }
        )
    )
    copy = tm.document["properties"]["copy"]
    assert copy == {"type": "number", "unit": "A", "readOnly": True}
    assert "tm:ref" not in json.dumps(tm.document)


def test_merge_patch_rfc7396_examples() -> None:
    """RFC 7396 appendix A."""
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert merge_patch(["a", "b"], {"a": "b"}) == {"a": "b"}
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}


def test_tm_ref_loops_and_bad_pointers() -> None:
    with pytest.raises(ThingModelError, match="tm:ref loop"):
        load_thing_model(
            _tm(
                properties={
                    "a": {"tm:ref": "#/properties/b"},
                    "b": {"tm:ref": "#/properties/a"},
                }
            )
        )
    with pytest.raises(ThingModelError, match=r"\$\.properties\.a\[\"tm:ref\"\]: '/nope'"):
        load_thing_model(_tm(properties={"a": {"tm:ref": "#/nope"}}))


def test_tm_ref_exponential_expansion_is_bounded() -> None:
    """Each level refers to the one below four times: 4**15 copies if expanded blindly."""
    levels = {f"l{i}": {k: {"tm:ref": f"#/l{i + 1}"} for k in "abcd"} for i in range(15)}
    levels["l15"] = {"v": 1}
    with pytest.raises(ThingModelLimitError, match=f"more than {MAX_NODES} values"):
        load_thing_model(_tm(**levels))


def test_extends_from_files_merges_and_reports(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "base.tm.json",
        _tm(
            title="Base",
            description="base",
            properties={"voltage": {"type": "number", "unit": "V"}, "old": {"type": "string"}},
            **{"tm:optional": ["/properties/old"]},
        ),
    )
    child = _write(
        tmp_path,
        "child.tm.json",
        _tm(
            title="Child",
            links=[{"rel": "tm:extends", "href": "./base.tm.json", "type": "application/tm+json"}],
            properties={"current": {"type": "number", "unit": "A"}, "old": None},
        ),
    )
    tm = load_thing_model(child)
    assert tm.title == "Child"
    assert tm.description == "base"
    assert set(tm.document["properties"]) == {"voltage", "current"}
    assert tm.extends == (str((tmp_path / "base.tm.json").resolve()),)
    assert "links" not in tm.document


def test_extends_loop_and_depth(tmp_path: Path) -> None:
    def extending(target: str) -> dict[str, Any]:
        return _tm(links=[{"rel": "tm:extends", "href": target}])

    _write(tmp_path, "a.tm.json", extending("b.tm.json"))
    _write(tmp_path, "b.tm.json", extending("a.tm.json"))
    with pytest.raises(ThingModelError, match="tm:extends loop") as err:
        load_thing_model(tmp_path / "a.tm.json")
    assert err.value.path == "$.links[0].href"
    _write(tmp_path, "self.tm.json", extending("self.tm.json"))
    with pytest.raises(ThingModelError, match="tm:extends loop"):
        load_thing_model(tmp_path / "self.tm.json")
    for i in range(MAX_EXTENDS + 2):
        _write(tmp_path, f"c{i}.tm.json", extending(f"c{i + 1}.tm.json"))
    _write(tmp_path, f"c{MAX_EXTENDS + 2}.tm.json", _tm())
    with pytest.raises(ThingModelLimitError, match=f"more than {MAX_EXTENDS} Thing Models"):
        load_thing_model(tmp_path / "c0.tm.json")


def test_extends_outside_folder_or_remote_refused(tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    _write(tmp_path, "outside.tm.json", _tm())
    _write(inner, "x.tm.json", _tm(links=[{"rel": "tm:extends", "href": "../outside.tm.json"}]))
    with pytest.raises(ThingModelError, match="outside the Thing Model's folder"):
        load_thing_model(inner / "x.tm.json")
    remote = _tm(links=[{"rel": "tm:extends", "href": "https://example.com/a.tm.json"}])
    with pytest.raises(ThingModelError, match="remote Thing Models are not fetched"):
        load_thing_model(remote)


def test_optional_and_older_required() -> None:
    props = {
        "a": {"type": "number", "forms": [{"href": "http://x/a"}]},
        "b": {"type": "number", "forms": [{"href": "http://x/{{B}}"}]},
    }
    tm = load_thing_model(_tm(properties=props, **{"tm:optional": ["/properties/b"]}))
    assert placeholders(tm) == {"B"}
    assert placeholders(tm, include=()) == set()
    td = instantiate(tm, {})
    assert set(td["properties"]) == {"a"}
    assert "tm:optional" not in td
    td = instantiate(tm, {"B": "b"}, include={"b"})
    assert set(td["properties"]) == {"a", "b"}
    assert set(instantiate(tm, {"B": 1}, include={"/properties/b"})["properties"]) == {"a", "b"}
    old = load_thing_model(_tm(properties=props, **{"tm:required": ["#/properties/a"]}))
    assert old.optional == ("/properties/b",)
    assert set(instantiate(old, {})["properties"]) == {"a"}
    with pytest.raises(ThingModelError, match=r"tm:optional\"\]\[0\]: '/properties/zz'"):
        load_thing_model(_tm(properties=props, **{"tm:optional": ["/properties/zz"]}))


def test_hostile_size_and_depth(tmp_path: Path) -> None:
    huge = _write(tmp_path, "huge.tm.json", " " * (MAX_TM_BYTES + 1))
    with pytest.raises(ThingModelLimitError, match="byte limit") as err:
        load_thing_model(huge)
    assert err.value.source == str(huge)
    deep: Any = 1
    for _ in range(MAX_TM_DEPTH + 5):
        deep = {"x": deep}
    with pytest.raises(ThingModelLimitError, match="nested deeper"):
        load_thing_model(_tm(deep=deep))
    very_deep = _write(tmp_path, "deep.tm.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(ThingModelError, match="deep"):
        load_thing_model(very_deep)
    tm = load_thing_model(_tm(properties={f"p{i}": {"title": "{{BIG}}"} for i in range(100)}))
    with pytest.raises(ThingModelLimitError, match=f"larger than {MAX_TD_OUTPUT_BYTES}"):
        instantiate(tm, {"BIG": "x" * 60_000})
    with pytest.raises(ThingModelLimitError, match="larger than 65536 bytes"):
        instantiate(tm, {"BIG": "x" * 70_000})
    with pytest.raises(ThingModelError, match="not JSON"):
        instantiate(tm, {"BIG": float("nan")})
    nested: Any = []
    for _ in range(MAX_TM_DEPTH):
        nested = [nested]
    with pytest.raises(ThingModelLimitError, match="nested deeper"):
        instantiate(tm, {"BIG": nested})


def test_profile_library_user_overrides_and_broken_files(tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    user = tmp_path / "user"
    shipped.mkdir()
    user.mkdir()
    _write(shipped, "vendor-a.tm.json", _tm(title="Shipped A"))
    _write(shipped, "vendor-b.tm.json", _tm(title="Shipped B"))
    _write(user, "vendor-a.tm.json", _tm(title="User A"))
    _write(user, "vendor-b.tm.json", '{"@context": [], "@type": "tm:ThingModel", ')
    _write(user, "mine.tm.json", _tm(title="Mine", properties={"p": {"tm:ref": "#/nope"}}))
    _write(
        user,
        "derived.tm.json",
        _tm(title="Derived", links=[{"rel": "tm:extends", "href": "vendor-b"}]),
    )
    _write(user, "notes.txt", "ignored")
    library = ProfileLibrary(shipped, user)
    assert library.ids() == ["derived", "vendor-a", "vendor-b"]
    assert library.get("vendor-a").title == "User A"
    assert library.get("vendor-a").user
    assert library.get("vendor-b").title == "Shipped B"
    assert not library.get("vendor-b").user
    assert library.get("derived").title == "Derived"
    errors = {Path(str(err.source)).name: err for err in library.errors}
    assert set(errors) == {"vendor-b.tm.json", "mine.tm.json"}
    assert "not JSON" in str(errors["vendor-b.tm.json"])
    assert str(errors["mine.tm.json"]) == (
        f"{user / 'mine.tm.json'}: $.properties.p[\"tm:ref\"]: '/nope' names nothing in the Thing Model"
    )
    with pytest.raises(ThingModelError, match=r"mine\.tm\.json"):
        library.get("mine")
    with pytest.raises(ThingModelError, match="no profile 'nothing'"):
        library.get("nothing")
    td = instantiate(library.get("vendor-a"), {})
    assert td["links"] == [
        {"rel": "type", "href": "vendor-a.tm.json", "type": "application/tm+json"}
    ]
    assert ProfileLibrary(tmp_path / "missing", None).ids() == []


def test_user_override_extending_the_shipped_profile(tmp_path: Path) -> None:
    """A user file may extend the shipped profile of its own id; others see the override."""
    shipped = tmp_path / "shipped"
    user = tmp_path / "user"
    shipped.mkdir()
    user.mkdir()
    _write(shipped, "meter.tm.json", _tm(title="Meter", properties={"v": {"type": "number"}}))
    _write(
        user,
        "meter.tm.json",
        _tm(
            title="My meter",
            links=[{"rel": "tm:extends", "href": "meter"}],
            properties={"extra": {"type": "number"}},
        ),
    )
    _write(user, "a-derived.tm.json", _tm(links=[{"rel": "tm:extends", "href": "meter"}]))
    library = ProfileLibrary(shipped, user)
    assert library.errors == []
    assert set(library.get("meter").document["properties"]) == {"v", "extra"}
    assert library.get("meter").title == "My meter"
    assert set(library.get("a-derived").document["properties"]) == {"v", "extra"}
    # A broken override: the shipped profile stays, and what extends the id gets it.
    _write(user, "meter.tm.json", "{")
    library = ProfileLibrary(shipped, user)
    assert [Path(str(e.source)).name for e in library.errors] == ["meter.tm.json"]
    assert library.get("meter").title == "Meter"
    assert set(library.get("a-derived").document["properties"]) == {"v"}
