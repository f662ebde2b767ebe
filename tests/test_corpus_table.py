"""Every Thing Description of the shared real-world corpus, parsed and mapped.

Each TD either parses or is rejected with a :class:`WotValidationError` that names the member,
each parsed TD becomes at least one entity, and each of its affordances is accounted for in
exactly one place: played by an entity, listed as a service, or skipped with its reason. ``tests/wot_corpus_table.md`` records what
each TD becomes, produced by the same code as the ``describe`` tool; the test regenerates it
and compares, so a change in parsing or mapping shows up in review. To accept a change::

    THINGBRIDGE_UPDATE_TABLE=1 .venv/bin/python -m pytest tests/test_corpus_table.py

The corpus lives outside the repository (``../shared/corpus/wot-td``); without it the tests
skip.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from custom_components.thingbridge.wot import WotValidationError, parse_td
from custom_components.thingbridge.wot.__main__ import describe_raw, load_json_file
from custom_components.thingbridge.wot.mapping import map_thing, plan_thing, spec_affordances

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "wot-td"
TABLE = REPO / "tests" / "wot_corpus_table.md"
UPDATE_ENV = "THINGBRIDGE_UPDATE_TABLE"
NO_CORPUS = f"the shared corpus is not here ({CORPUS})"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the suite's fixture: no Home Assistant instance is needed here."""


def corpus_files() -> list[Path]:
    """The corpus's TD files, sorted by name (none when the corpus is absent)."""
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".json", ".jsonld"))


CORPUS_PARAMS = [pytest.param(p, id=p.name) for p in corpus_files()] or [
    pytest.param(None, id="no-corpus", marks=pytest.mark.skip(reason=NO_CORPUS))
]


@pytest.mark.parametrize("path", CORPUS_PARAMS)
def test_corpus_td_parses_or_is_rejected_by_member(path: Path) -> None:
    raw = load_json_file(path)
    rejection: WotValidationError | None = None
    try:
        td = parse_td(raw)
    except WotValidationError as err:
        rejection = err
    if rejection is not None:
        assert rejection.path.startswith("$"), rejection
        assert rejection.reason, rejection
        return
    assert td.title
    specs = map_thing(td)
    assert specs, f"{path.name} ({td.title}) yields no entity"
    assert len({spec.key for spec in specs}) == len(specs), "entity keys must be unique"
    for spec in specs:
        assert spec.affordance in {*td.properties, *td.actions, *td.events}, spec
    for skipped in td.skipped:
        assert skipped.path.startswith("$."), skipped


def _skipped_affordances(line: dict[str, Any], raw: dict[str, Any]) -> set[tuple[str, str]]:
    """The ``(kind, name)`` of the affordances the ``skipped`` entries of a describe line name.

    An entry starts with the JSON path of what is wrong: ``$.actions.<name>...``; names may
    hold dots, so each of the TD's own names is matched as a whole path segment.
    """
    found: set[tuple[str, str]] = set()
    for kind, member in (("property", "properties"), ("action", "actions"), ("event", "events")):
        names = raw.get(member)
        for name in names if isinstance(names, dict) else ():
            prefix = f"$.{member}.{name}"
            if any(
                entry.startswith(prefix) and entry[len(prefix) : len(prefix) + 1] in (".", "[", ":")
                for entry in line["skipped"]
            ):
                found.add((kind, name))
    return found


@pytest.mark.parametrize("path", CORPUS_PARAMS)
def test_corpus_every_affordance_is_accounted_for_once(path: Path) -> None:
    """Issue 10: each affordance is in exactly one of entities, services and skipped."""
    raw = load_json_file(path)
    for index, item in enumerate(raw if isinstance(raw, list) else [raw]):
        try:
            td = parse_td(item)
        except WotValidationError:
            continue  # rejected whole: the line says why
        line = describe_raw(item, f"{path.name}#{index}")[0]
        plan = plan_thing(td)
        in_entities = [a for spec in plan.entities for a in spec_affordances(spec)]
        in_services = [(service.kind, service.affordance) for service in plan.services]
        skipped = _skipped_affordances(line, item)
        declared = {
            (kind, name)
            for kind, member in (("property", "properties"), ("action", "actions"), ("event", "events"))
            for name in (item.get(member) or {})
        }  # fmt: skip
        assert len(in_services) == len(set(in_services)), in_services
        assert [s.as_dict() for s in plan.services] == line["services"]
        for affordance in sorted(declared):
            places = [
                where
                for where, found in (
                    ("entities", affordance in in_entities),
                    ("services", affordance in in_services),
                    ("skipped", affordance in skipped),
                )
                if found
            ]
            assert len(places) == 1, f"{path.name}: {affordance} is in {places or 'nowhere'}"
        for service in plan.services:
            assert service.reason, service


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _entity(entity: dict[str, Any]) -> str:
    name = entity["name"] if entity["name"] is not None else "(main)"
    return f"{entity['platform']}:{name}"


def render_table(files: list[Path]) -> str:
    """The Markdown table of what each corpus TD becomes."""
    out = [
        "# What the shared WoT corpus becomes",
        "",
        "Generated by `tests/test_corpus_table.py` from `../shared/corpus/wot-td/` with the code",
        "of `python -m custom_components.thingbridge.wot describe` (files parsed without a base",
        "URL). Per TD: its title, the entities it becomes as `platform:name` (`(main)` is a",
        "Thing's main entity, which takes the device's name), or why it is rejected, the",
        "affordances left out, and the services: affordances no entity plays, reachable through",
        "`thingbridge.invoke_action` (with why). Regenerate after a deliberate change with",
        f"`{UPDATE_ENV}=1 .venv/bin/python -m pytest tests/test_corpus_table.py`.",
        "",
        "| file | title | entities | left out | services |",
        "|---|---|---|---|---|",
    ]
    for path in files:
        for line in describe_raw(load_json_file(path), path.name):
            if "error" in line:
                row = [line["source"], "", f"**rejected:** {line['error']}", "", ""]
            else:
                row = [
                    line["source"],
                    line["title"],
                    ", ".join(_entity(e) for e in line["entities"]),
                    "; ".join(line["skipped"]),
                    ", ".join(
                        f"{s['kind']}:{s['affordance']} ({s['reason']})" for s in line["services"]
                    ),
                ]
            out.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(out) + "\n"


def test_corpus_table_is_current() -> None:
    files = corpus_files()
    if not files:
        pytest.skip(NO_CORPUS)
    expected = render_table(files)
    if os.environ.get(UPDATE_ENV) == "1":
        TABLE.write_text(expected, encoding="utf-8")
    assert TABLE.is_file(), f"{TABLE.name} is missing: run with {UPDATE_ENV}=1 to write it"
    assert TABLE.read_text(encoding="utf-8") == expected, (
        f"what the corpus becomes has changed: review the difference and run with "
        f"{UPDATE_ENV}=1 to accept it"
    )


def test_table_rendering_escapes_cells() -> None:
    assert _cell("a|b\nc\\d") == "a\\|b c\\\\d"
    assert _entity({"platform": "light", "name": None}) == "light:(main)"
    assert _entity({"platform": "sensor", "name": "T"}) == "sensor:T"
