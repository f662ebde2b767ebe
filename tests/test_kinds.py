"""The kind registry: every kind of entry is one row, and nothing outside it asks by hand."""

from __future__ import annotations

import importlib
from pathlib import Path
import re

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_URL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.thingbridge.bridges.trackers.runtime import TrackerGatewayRuntime
from custom_components.thingbridge.const import (
    CONF_KIND,
    DOMAIN,
    ENTRY_KINDS,
    KIND_TRACKER_GATEWAY,
    KIND_WOT_DIRECTORY,
    KIND_WOT_THING,
)
from custom_components.thingbridge.kinds import KINDS, kind_of

from .conftest import INTEGRATION
from .tracker_support import gateway_entry, setup_gateway

# The modules that must dispatch through the registry, never on the kind by hand.
DISPATCHING = ["__init__", "diagnostics", "services", "device_trigger"]
ASKING_BY_HAND = re.compile(r"is_tracker_gateway|CONF_KIND|[!=]= *KIND_|KIND_\w+ *[!=]=")


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of the test's own: the gateway's journal is written there."""
    return hass_tmp_config_dir


def _platform_modules() -> list[str]:
    return [p.value for p in Platform if (INTEGRATION / f"{p.value}.py").is_file()]


def test_every_entry_kind_has_one_row() -> None:
    assert set(KINDS) == set(ENTRY_KINDS)
    assert all(kind.key == key for key, kind in KINDS.items())


@pytest.mark.parametrize("key", ENTRY_KINDS)
def test_a_kinds_platforms_exist_and_have_its_row(key: str) -> None:
    """Each platform a kind lists is a module of the integration with a row for the kind."""
    kind = KINDS[key]
    assert kind.platforms
    for platform in kind.platforms:
        module = importlib.import_module(f"custom_components.thingbridge.{platform.value}")
        assert key in module.FACTORIES, f"{platform.value}.py has no row for {key}"


@pytest.mark.parametrize("name", _platform_modules())
def test_a_platforms_rows_are_kinds_that_list_it(name: str) -> None:
    """No row for a kind that never sets the platform up (dead code, or a forgotten platform)."""
    module = importlib.import_module(f"custom_components.thingbridge.{name}")
    assert module.FACTORIES
    for key in module.FACTORIES:
        assert Platform(name) in KINDS[key].platforms, f"{key} does not list {name}"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({CONF_KIND: KIND_WOT_THING, CONF_URL: "http://127.0.0.1/td"}, KIND_WOT_THING),
        ({CONF_KIND: KIND_WOT_DIRECTORY, CONF_URL: "http://127.0.0.1/d"}, KIND_WOT_DIRECTORY),
        ({CONF_KIND: KIND_TRACKER_GATEWAY}, KIND_TRACKER_GATEWAY),
        # Made before entries had a kind: a Thing.
        ({CONF_URL: "http://127.0.0.1/td"}, KIND_WOT_THING),
    ],
)
def test_kind_of_reads_the_entry_data(data: dict[str, str], key: str) -> None:
    assert kind_of(MockConfigEntry(domain=DOMAIN, data=data)) is KINDS[key]


def test_kind_of_refuses_an_unknown_kind() -> None:
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_KIND: "a_future_kind"})
    with pytest.raises(ConfigEntryError) as caught:
        kind_of(entry)
    assert caught.value.translation_key == "unknown_kind"
    assert caught.value.translation_placeholders == {"kind": "'a_future_kind'"}


async def test_an_entry_of_an_unknown_kind_fails_clearly_and_can_be_deleted(
    hass: HomeAssistant,
) -> None:
    """A newer version's entry is refused with a reason, not set up as a Thing; it can go."""
    entry = MockConfigEntry(
        domain=DOMAIN, data={CONF_KIND: "a_future_kind", CONF_URL: "http://127.0.0.1:1/td"}
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.error_reason_translation_key == "unknown_kind"
    assert entry.reason is not None
    assert "'a_future_kind'" in entry.reason
    assert await hass.config_entries.async_remove(entry.entry_id) == {"require_restart": False}
    assert hass.config_entries.async_get_entry(entry.entry_id) is None


@pytest.mark.usefixtures("socket_enabled")
async def test_the_gateway_has_no_things_and_no_fake_attribute(hass: HomeAssistant) -> None:
    """The actions and device triggers ask the registry; the gateway's runtime is only its own."""
    entry = gateway_entry()
    runtime = await setup_gateway(hass, entry)
    assert kind_of(entry).things(entry) == {}
    assert not hasattr(TrackerGatewayRuntime, "things")
    assert not hasattr(runtime, "things")
    assert await hass.config_entries.async_unload(entry.entry_id)


def _asking_by_hand(path: Path) -> list[str]:
    return [
        f"{path.name}:{number}: {line.strip()}"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ASKING_BY_HAND.search(line)
    ]


def test_hooks_and_platforms_do_not_branch_on_the_kind() -> None:
    """The hooks make one call through the registry; platforms only key their tables by kind."""
    modules = [INTEGRATION / f"{name}.py" for name in DISPATCHING + _platform_modules()]
    assert [hit for path in modules for hit in _asking_by_hand(path)] == []


def test_the_branch_scan_catches_a_ladder(tmp_path: Path) -> None:
    """The scan above must be able to fail."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "FACTORIES = {KIND_WOT_THING: setup}\n"
        "if entry.data.get(CONF_KIND) == KIND_WOT_DIRECTORY:\n"
        "    pass\n"
        "if is_tracker_gateway(entry):\n"
        "    pass\n"
    )
    assert _asking_by_hand(probe) == [
        "probe.py:2: if entry.data.get(CONF_KIND) == KIND_WOT_DIRECTORY:",
        "probe.py:4: if is_tracker_gateway(entry):",
    ]
