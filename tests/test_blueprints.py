"""The shipped blueprints are valid automation blueprints, and their automations validate."""

from __future__ import annotations

from pathlib import Path

from homeassistant.components.automation.config import (
    AUTOMATION_BLUEPRINT_SCHEMA,
    async_validate_config_item,
)
from homeassistant.components.blueprint import models
from homeassistant.core import HomeAssistant
from homeassistant.util.yaml import load_yaml_dict
import pytest

BLUEPRINTS = sorted((Path(__file__).resolve().parent.parent / "blueprints").rglob("*.yaml"))


@pytest.mark.parametrize("path", BLUEPRINTS, ids=[p.name for p in BLUEPRINTS])
async def test_blueprint_is_valid(hass: HomeAssistant, path: Path) -> None:
    blueprint = models.Blueprint(
        load_yaml_dict(path), expected_domain="automation", schema=AUTOMATION_BLUEPRINT_SCHEMA
    )
    assert blueprint.metadata["source_url"].endswith(path.name)
    inputs = {}
    for name, spec in blueprint.inputs.items():
        inputs[name] = spec.get("default") if spec and "default" in spec else f"sensor.{name}"
    automation = models.BlueprintInputs(
        blueprint, {"use_blueprint": {"path": path.name, "input": inputs}}
    )
    assert automation.async_substitute()["triggers"]
    validated = await async_validate_config_item(hass, "test", automation.async_substitute())
    assert validated is not None


def test_there_are_blueprints() -> None:
    assert len(BLUEPRINTS) >= 2
