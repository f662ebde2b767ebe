"""Repository rules: protocol code is Home Assistant-free and imported only through its face,
without import cycles; a pillar's glue imports no other pillar's glue; manifest and HACS files
are valid."""

from __future__ import annotations

import ast
from collections.abc import Collection, Mapping
import importlib
import json
from pathlib import Path
import subprocess
import sys

import pytest

from .conftest import DOMAIN, INTEGRATION, REPO, TRANSLATIONS

PROTOCOL_PACKAGES = ("wot", "m2m", "assets")


def _homeassistant_imports(path: Path, root: Path = REPO) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        found += [
            f"{path.relative_to(root)}:{node.lineno} imports {m}"
            for m in modules
            if m == "homeassistant" or m.startswith("homeassistant.")
        ]
    return found


def test_protocol_packages_do_not_import_homeassistant() -> None:
    packages = [INTEGRATION / n for n in PROTOCOL_PACKAGES if (INTEGRATION / n).is_dir()]
    assert packages, "no protocol subpackage found"
    offenders = [
        hit for pkg in packages for f in pkg.rglob("*.py") for hit in _homeassistant_imports(f)
    ]
    assert offenders == []


def test_import_scan_catches_an_offender(tmp_path: Path) -> None:
    """The scan above must be able to fail."""
    bad = tmp_path / "probe.py"
    bad.write_text("import os\nfrom homeassistant.core import HomeAssistant\n")
    assert _homeassistant_imports(bad, tmp_path) == ["probe.py:2 imports homeassistant.core"]


def _face_violations(
    path: Path,
    faces: Mapping[str, Collection[str]],
    root: Path = REPO,
    package: Path = INTEGRATION,
) -> list[str]:
    """Imports of a library in a glue module that bypass the library's face (``__all__``).

    ``package`` is the integration's folder: a module ``bridges/wot/flow.py`` below it
    reaches the libraries with ``from ...wot import X``.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    level = len(path.relative_to(package).parts)  # dots that lead to the integration
    found: list[str] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and node.level == level and node.module):
            continue
        package, _, submodule = node.module.partition(".")
        if package not in faces:
            continue
        where = f"{path.relative_to(root)}:{node.lineno}"
        if submodule:
            found.append(f"{where} imports .{node.module}")
            continue
        found += [
            f"{where} imports .{package}.{alias.name}, which is not in its __all__"
            for alias in node.names
            if alias.name not in faces[package]
        ]
    return found


def _faces() -> dict[str, frozenset[str]]:
    return {
        name: frozenset(importlib.import_module(f"custom_components.{DOMAIN}.{name}").__all__)
        for name in PROTOCOL_PACKAGES
        if (INTEGRATION / name).is_dir()
    }


def test_glue_imports_libraries_only_through_their_faces() -> None:
    """The glue uses ``from .wot import X`` / ``from .m2m import X`` only (its packages too)."""
    glue = sorted(INTEGRATION.glob("*.py")) + sorted((INTEGRATION / "bridges").rglob("*.py"))
    assert len(glue) > 20, "no glue module found"
    faces = _faces()
    assert {"wot", "m2m"} <= set(faces)
    assert [hit for path in glue for hit in _face_violations(path, faces)] == []


def test_face_scan_catches_an_offender(tmp_path: Path) -> None:
    """The scan above must be able to fail: a submodule import, a name not in the face."""
    bad = tmp_path / "probe.py"
    bad.write_text(
        "from .wot import WotError\n"
        "from .wot.mapping import SENSOR\n"
        "from .m2m import TrackerGateway, journal\n"
        "from .const import DOMAIN\n"
    )
    faces = {"wot": {"WotError"}, "m2m": {"TrackerGateway"}}
    assert _face_violations(bad, faces, tmp_path, tmp_path) == [
        "probe.py:2 imports .wot.mapping",
        "probe.py:3 imports .m2m.journal, which is not in its __all__",
    ]
    deep = tmp_path / "bridges" / "wot" / "probe.py"  # a pillar package's module
    deep.parent.mkdir(parents=True)
    deep.write_text("from ...wot.td import parse_td\nfrom ..flow import FlowError\n")
    assert _face_violations(deep, faces, tmp_path, tmp_path) == [
        "bridges/wot/probe.py:1 imports .wot.td"
    ]


def test_every_face_name_exists() -> None:
    """Each name a library's ``__all__`` lists can be imported from it."""
    for name, face in _faces().items():
        package = importlib.import_module(f"custom_components.{DOMAIN}.{name}")
        assert [n for n in face if not hasattr(package, n)] == [], name


def _library_modules() -> list[str]:
    """Every module of the libraries, named as a top-level package (``wot.discovery``)."""
    modules: list[str] = []
    for name in PROTOCOL_PACKAGES:
        for path in sorted((INTEGRATION / name).rglob("*.py")):
            parts = path.relative_to(INTEGRATION).with_suffix("").parts
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def _import_alone(module: str, path: Path) -> subprocess.CompletedProcess[str]:
    """Import ``module`` first thing in a fresh interpreter that has ``path`` on sys.path."""
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(path)!r}); import {module}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("module", _library_modules())
def test_library_module_imports_alone(module: str, tmp_path: Path) -> None:
    """No import cycle: every library module can be the first one imported (zeroconf style).

    The libraries are imported as top-level packages, as they would be when published on
    their own, so this also fails when one reaches into the glue. Only the libraries are on
    the path (links to them): the platform modules beside them are named like standard
    library modules (``calendar.py``) that the libraries' dependencies import.
    """
    for name in PROTOCOL_PACKAGES:
        (tmp_path / name).symlink_to(INTEGRATION / name, target_is_directory=True)
    result = _import_alone(module, tmp_path)
    assert result.returncode == 0, result.stderr


def test_isolated_import_catches_a_cycle(tmp_path: Path) -> None:
    """The import check above must be able to fail."""
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import B\nA = 1\n")
    (package / "b.py").write_text("from .a import A\nB = 2\n")
    result = _import_alone("cyclic.a", tmp_path)
    assert result.returncode == 1
    assert "partially initialized module" in result.stderr


def _pillars(root: Path = INTEGRATION) -> list[str]:
    """The pillars' glue packages: the packages under ``bridges/``."""
    return sorted(p.parent.name for p in (root / "bridges").glob("*/__init__.py"))


def _pillar_violations(path: Path, pillars: Collection[str], root: Path = INTEGRATION) -> list[str]:
    """Imports of another pillar's glue package in ``path``, a module of a pillar's package.

    Relative imports are resolved against ``path``'s package; absolute ones are read from the
    integration's package (``custom_components.thingbridge.``) down.
    """
    parts = path.relative_to(root).with_suffix("").parts
    own, package = parts[1], parts[:-1]  # an __init__'s package is its directory, too
    prefix = f"custom_components.{DOMAIN}."
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join((*base, *module.split("."))).strip(".")
            # ``from .. import trackers`` imports a package by the name it imports.
            modules = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        else:
            continue
        heads = [m.removeprefix(prefix).split(".") for m in modules]
        bad = [
            ".".join(head)
            for head in heads
            if head[0] == "bridges" and len(head) > 1 and head[1] in pillars and head[1] != own
        ]
        if bad:
            found.append(f"{path.relative_to(root)}:{node.lineno} imports {bad[0]}")
    return found


def test_pillar_glue_imports_no_other_pillar() -> None:
    """``bridges/wot`` never imports ``bridges/trackers`` and vice versa (nor any later pillar)."""
    pillars = _pillars()
    assert {"wot", "trackers"} <= set(pillars)
    modules = [path for name in pillars for path in (INTEGRATION / "bridges" / name).rglob("*.py")]
    assert len(modules) >= 2 * len(pillars), "no pillar module found"
    assert [hit for path in modules for hit in _pillar_violations(path, pillars)] == []


def test_pillar_scan_catches_an_offender(tmp_path: Path) -> None:
    """The scan above must be able to fail: relative, absolute and package-name imports."""
    for name in ("wot", "trackers"):
        (tmp_path / "bridges" / name).mkdir(parents=True)
        (tmp_path / "bridges" / name / "__init__.py").write_text("")
    bad = tmp_path / "bridges" / "wot" / "flow.py"
    bad.write_text(
        "from ...const import DOMAIN\n"
        "from ..flow import FlowError\n"
        "from .state import WotFlowState\n"
        "from ..trackers.flow import TrackerSteps\n"
        "from .. import trackers\n"
        "import custom_components.thingbridge.bridges.trackers.flow\n"
        "from custom_components.thingbridge.bridges import trackers as other\n"
        "from ...bridges.trackers import TrackerSteps\n"
    )
    assert _pillars(tmp_path) == ["trackers", "wot"]
    assert _pillar_violations(bad, _pillars(tmp_path), tmp_path) == [
        "bridges/wot/flow.py:4 imports bridges.trackers.flow",
        "bridges/wot/flow.py:5 imports bridges.trackers",
        "bridges/wot/flow.py:6 imports bridges.trackers.flow",
        "bridges/wot/flow.py:7 imports bridges.trackers",
        "bridges/wot/flow.py:8 imports bridges.trackers",
    ]
    own = tmp_path / "bridges" / "trackers" / "__init__.py"
    own.write_text("from .flow import TrackerSteps\nfrom ..wot import flow\n")
    assert _pillar_violations(own, ["trackers", "wot"], tmp_path) == [
        "bridges/trackers/__init__.py:2 imports bridges.wot"
    ]


def _is_type_checking(test: ast.expr) -> bool:
    """``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The imports below ``node`` that run, i.e. all but those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            found.append(child)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            found += [hit for branch in child.orelse for hit in _runtime_imports(branch)]
        else:
            found += _runtime_imports(child)
    return found


def _import_graph(root: Path = INTEGRATION) -> dict[str, set[str]]:
    """Which module of the package at ``root`` imports which, by dotted name (``thingbridge.kinds``).

    A package is named by its ``__init__``. Importing ``a.b.c`` runs the ``__init__`` of ``a``
    and ``a.b`` first, so those are edges too, except the importer's own packages, which are
    already being imported when it runs; a name taken from one of them (``from . import X``
    with ``X`` not a submodule) is an edge to it, the package's ``__init__`` then has to get
    that far first. Absolute imports are read from ``custom_components.<root>`` down.
    """
    paths: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path

    def lineage(module: str) -> list[str]:  # the module and the packages above it
        parts = module.split(".")
        return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]

    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        running = set(lineage(name))
        edges = graph.setdefault(name, set())
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in _runtime_imports(tree):
            if isinstance(node, ast.Import):
                targets = [
                    (alias.name.removeprefix("custom_components."), ()) for alias in node.names
                ]
            elif node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
                targets = [(module, node.names)]
            else:
                targets = [((node.module or "").removeprefix("custom_components."), node.names)]
            for target, aliases in targets:
                if target not in paths:
                    continue  # another library, or no module of ours
                names = {alias.name for alias in aliases}
                submodules = {f"{target}.{n}" for n in names} & paths.keys()
                edges.update((set(lineage(target)) | submodules) - running)
                if any(f"{target}.{n}" not in paths for n in names) and target != name:
                    edges.add(target)
    return graph


def _import_cycle(graph: Mapping[str, Collection[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None when it has none."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if cycle := visit(target):
                return cycle
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        if cycle := visit(module):
            return cycle
    return None


def test_integration_has_no_import_cycle() -> None:
    """No module of the integration (glue or library) imports itself back, the package's
    ``__init__`` included (Home Assistant imports it first); ``TYPE_CHECKING`` imports aside."""
    graph = _import_graph()
    assert len(graph) > 50, "no module found"
    assert f"{DOMAIN}.integration" in graph[DOMAIN], "no edge found"
    assert f"{DOMAIN}.kinds" in graph[f"{DOMAIN}.integration"], "no edge found"
    assert {f"{DOMAIN}.wot", f"{DOMAIN}.m2m"} <= set().union(*graph.values()), "no edge found"
    cycle = _import_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_import_cycle_check_catches_a_cycle(tmp_path: Path) -> None:
    """The check above must be able to fail: a plain cycle, one through a package's
    ``__init__``, one through an implicitly imported package; and nothing on a clean tree."""
    root = tmp_path / DOMAIN
    (root / "bridges" / "wot").mkdir(parents=True)
    files = {
        "__init__.py": "from .kinds import KINDS\nPLATFORMS = []\n",
        "const.py": "DOMAIN = 'x'\n",
        "kinds.py": (
            "from typing import TYPE_CHECKING\n"
            "from . import const\n"
            "from .bridges.wot.flow import WotSteps\n"
            "if TYPE_CHECKING:\n"
            "    from . import PLATFORMS\n"
            "    from .sensor import SENSORS\n"
            "KINDS = {}\n"
        ),
        "sensor.py": "from .kinds import KINDS\nSENSORS = []\n",
        "bridges/__init__.py": "",
        "bridges/wot/__init__.py": "",
        "bridges/wot/flow.py": "from ...const import DOMAIN\nfrom .. import wot\n",
        "m2m.py": "import custom_components.thingbridge.const\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    graph = _import_graph(root)
    assert graph[f"{DOMAIN}.bridges.wot.flow"] == {f"{DOMAIN}.const"}
    assert graph[f"{DOMAIN}.m2m"] == {f"{DOMAIN}.const"}
    assert _import_cycle(graph) is None
    planted = {
        "const.py": (
            "from .kinds import KINDS\n",
            ["kinds", "bridges.wot.flow", "const", "kinds"],
        ),
        "kinds.py": ("from . import PLATFORMS\n", ["", "kinds", ""]),
        "bridges/wot/__init__.py": (
            "from ...kinds import KINDS\n",
            ["kinds", "bridges.wot", "kinds"],
        ),
        "bridges/__init__.py": (
            "from custom_components.thingbridge import kinds\n",
            ["kinds", "bridges", "kinds"],
        ),
    }
    for name, (line, expected) in planted.items():
        clean = (root / name).read_text()
        (root / name).write_text(clean + line)
        cycle = _import_cycle(_import_graph(root))
        assert cycle is not None, name
        assert [m.removeprefix(DOMAIN).strip(".") for m in cycle] == expected, name
        (root / name).write_text(clean)
    assert _import_cycle(_import_graph(root)) is None


def test_manifest_keys_sorted_and_complete() -> None:
    manifest = json.loads((INTEGRATION / "manifest.json").read_text())
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    for key in ("codeowners", "documentation", "issue_tracker", "iot_class", "version"):
        assert manifest[key], key
    assert manifest["iot_class"] == "local_push"
    assert set(manifest["zeroconf"]) == {"_wot._tcp.local.", "_webthing._tcp.local."}
    assert not any("==" in req for req in manifest["requirements"])


def test_the_add_button_says_what_an_entry_adds() -> None:
    """Issue 10: single devices were added with a button labelled "Add hub".

    The integration page labels its button as the frontend does: the integration's own
    ``config.initiate_flow.user`` translation, else "Add <integration_type>" ("Add hub" for
    ``hub``), and heads the entries with the type ("Hubs"). Most entries are one Thing (a
    directory and the tracker gateway are one endpoint too), so the type is ``device``, as
    core's homekit_controller and shelly are although some of their entries are bridges; the
    label names the kinds the menu offers (the asset register is the fourth).
    """
    manifest = json.loads((INTEGRATION / "manifest.json").read_text())
    assert manifest["integration_type"] == "device"
    config = TRANSLATIONS["config"]
    label = config.get("initiate_flow", {}).get("user") or f"Add {manifest['integration_type']}"
    assert label == "Add device, gateway or register"
    assert set(config["step"]["user"]["menu_options"]) == {
        "wot_thing", "wot_directory", "modbus_device", "tracker_gateway", "asset_register"
    }  # fmt: skip


def test_hacs_json() -> None:
    hacs = json.loads((REPO / "hacs.json").read_text())
    allowed = {
        "name", "content_in_root", "zip_release", "filename", "hide_default_branch",
        "country", "homeassistant", "hacs", "persistent_directory", "render_readme",
    }  # fmt: skip
    assert set(hacs) <= allowed
    assert hacs["name"] == "ThingBridge"
    requirements = (REPO / "requirements_test.txt").read_text()
    assert hacs["homeassistant"] == "2026.10.4"
    assert "pytest-homeassistant-custom-component==0.13.375" in requirements


@pytest.mark.parametrize("image", ["icon.png", "logo.png", "icon@2x.png", "logo@2x.png"])
def test_brand_images_are_png(image: str) -> None:
    data = (INTEGRATION / "brand" / image).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_service_is_translated() -> None:
    import yaml  # noqa: PLC0415

    services = yaml.safe_load((INTEGRATION / "services.yaml").read_text())
    for name, spec in services.items():
        text = TRANSLATIONS["services"][name]
        assert text["name"]
        assert text["description"]
        assert set(spec.get("fields", {})) == set(text.get("fields", {}))


IQS_RULES = {
    "bronze": [
        "action-setup", "appropriate-polling", "brands", "common-modules", "config-flow",
        "config-flow-test-coverage", "dependency-transparency", "docs-actions", "docs-conditions",
        "docs-high-level-description", "docs-installation-instructions", "docs-removal-instructions",
        "docs-triggers", "entity-event-setup", "entity-unique-id", "has-entity-name", "runtime-data",
        "test-before-configure", "test-before-setup", "unique-config-entry",
    ],
    "silver": [
        "action-exceptions", "config-entry-unloading", "docs-configuration-parameters",
        "docs-installation-parameters", "entity-unavailable", "integration-owner",
        "log-when-unavailable", "parallel-updates", "reauthentication-flow", "test-coverage",
    ],
    "gold": [
        "devices", "diagnostics", "discovery", "discovery-update-info", "docs-data-update",
        "docs-examples", "docs-known-limitations", "docs-supported-devices",
        "docs-supported-functions", "docs-troubleshooting", "docs-use-cases", "dynamic-devices",
        "entity-category", "entity-device-class", "entity-disabled-by-default",
        "entity-translations", "exception-translations", "icon-translations",
        "reconfiguration-flow", "repair-issues", "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}  # fmt: skip


def test_quality_scale_lists_every_rule() -> None:
    import yaml  # noqa: PLC0415

    rules = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text())["rules"]
    expected = {rule for tier in IQS_RULES.values() for rule in tier}
    assert set(rules) == expected
    for rule, value in rules.items():
        status = value if isinstance(value, str) else value["status"]
        assert status in ("todo", "done", "exempt"), rule
        if status == "exempt":
            assert value["comment"], f"{rule}: an exempt rule needs a comment"


def test_every_platform_sets_parallel_updates() -> None:
    platforms = ("sensor", "binary_sensor", "switch", "light", "lock", "climate", "cover", "fan",
                 "number", "select", "text", "button", "event", "device_tracker")  # fmt: skip
    for name in platforms:
        path = INTEGRATION / f"{name}.py"
        if path.exists():
            assert "PARALLEL_UPDATES" in path.read_text(), name


def test_translations_have_no_duplicate_keys() -> None:
    """A key written twice in a JSON object silently loses the first one's strings."""
    duplicates: list[str] = []

    def check(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in pairs]
        duplicates.extend(key for key in set(keys) if keys.count(key) > 1)
        return dict(pairs)

    for path in (INTEGRATION / "translations").glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=check)
    assert duplicates == []
    json.loads('{"issues": {}, "issues": {}}', object_pairs_hook=check)
    assert duplicates == ["issues"]  # the check can fail


def _newer_syntax(path: Path, root: Path = REPO) -> list[str]:
    """A library module that Python 3.11's parser refuses, with the reason."""
    try:
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 11))
    except SyntaxError as err:
        return [f"{path.relative_to(root)}:{err.lineno}: {err.msg}"]
    return []


def test_libraries_parse_on_python_3_11() -> None:
    """The libraries are publishable for older Pythons, and tools on the machine read them.

    (The pre-stop check of the repository scans them with the system's Python 3.11.)
    """
    modules = [
        path
        for name in PROTOCOL_PACKAGES
        if (INTEGRATION / name).is_dir()
        for path in sorted((INTEGRATION / name).rglob("*.py"))
    ]
    assert len(modules) > 30
    assert [hit for path in modules for hit in _newer_syntax(path)] == []


def test_newer_syntax_check_can_fail(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("try:\n    pass\nexcept OSError, ValueError:\n    pass\ntype X = int\n")
    [hit] = _newer_syntax(probe, tmp_path)
    assert hit.startswith("probe.py:")


@pytest.mark.parametrize(
    "module",
    [
        "custom_components.thingbridge.wot.__main__",
        "custom_components.thingbridge.m2m.__main__",
        "custom_components.thingbridge.m2m.trackers.__main__",
        "custom_components.thingbridge.assets.__main__",
    ],
)
def test_the_command_line_tools_do_not_load_home_assistant(module: str) -> None:
    """``python -m custom_components.thingbridge.wot`` goes through the integration's package:
    that package must not pull Home Assistant in (it took seconds to start)."""
    probe = (
        f"import importlib, sys; importlib.import_module({module!r}); "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'homeassistant'); "
        "print(len(loaded), loaded[:3])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("0 "), out


def test_the_hooks_are_there_outside_home_assistant_on_first_use() -> None:
    probe = (
        "import sys, custom_components.thingbridge as tb; "
        "assert 'homeassistant.core' not in sys.modules; "
        "assert callable(tb.async_setup_entry) and tb.CONFIG_SCHEMA is not None; "
        "assert 'homeassistant.core' in sys.modules; "
        "assert not hasattr(tb, 'async_migrate_entry'); print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "ok"


def test_inside_home_assistant_the_hooks_are_imported_with_the_package() -> None:
    import custom_components.thingbridge as package  # noqa: PLC0415
    from custom_components.thingbridge import integration  # noqa: PLC0415

    assert "homeassistant.core" in sys.modules
    # Every hook integration.py defines is re-exported, and none is forgotten in either list.
    assert set(package.HOOKS) == set(integration.__all__)
    for hook in package.HOOKS:
        assert vars(package)[hook] is getattr(integration, hook), hook
