"""Repository rules: protocol code is Home Assistant-free; manifest and HACS files are valid."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from .conftest import INTEGRATION, REPO, TRANSLATIONS

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


def test_manifest_keys_sorted_and_complete() -> None:
    manifest = json.loads((INTEGRATION / "manifest.json").read_text())
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    for key in ("codeowners", "documentation", "issue_tracker", "iot_class", "version"):
        assert manifest[key], key
    assert manifest["integration_type"] == "hub"
    assert manifest["iot_class"] == "local_push"
    assert set(manifest["zeroconf"]) == {"_wot._tcp.local.", "_webthing._tcp.local."}
    assert not any("==" in req for req in manifest["requirements"])


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
