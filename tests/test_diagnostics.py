"""Diagnostics of every kind of entry, and of a device of each, against snapshots.

The installation is the one of the registry compatibility test (tests/legacy_layout.py):
Things with and without credentials, the simulator's directory, the tracker gateway with its
saved counters and journal. Diagnostics are fetched as a user downloads them (the HTTP
view). Volatile values are scrubbed: the simulator's and the gateway's ports, the journal's
path (a temporary directory); times come from the frozen clock and the stored data.
What each redacts and leaves out is tested in bridges/wot/test_services.py and bridges/trackers/test_tracker_e2e.py; these
snapshots pin the whole shape, so that the refactor of issue 9 keeps it.
"""

from __future__ import annotations

from datetime import UTC
import math
from typing import Any

from aiohttp.web_log import AccessLogger
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from simulator.wot import WotSimulator

from .conftest import StaticServer
from .legacy_layout import (
    DIMMER_ENTRY,
    DIRECTORY_ENTRY,
    GATEWAY_ENTRY,
    LAMP_ENTRY,
    LOCK_ENTRY,
    NO_ID_ENTRY,
    NOW,
    PLUG_ENTRY,
    TELTONIKA,
    load_installation,
    scrub,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

# Config entry -> the device whose diagnostics are snapshotted too (None: the Thing has no
# id, its device is known by its URL, the entry's unique ID).
DEVICES: dict[str, str | None] = {
    LAMP_ENTRY: "urn:thingbridge:simulator:lamp",
    PLUG_ENTRY: "urn:thingbridge:simulator:plug",
    LOCK_ENTRY: "urn:thingbridge:simulator:lock",
    DIMMER_ENTRY: "urn:thingbridge:simulator:webthing-switch",
    NO_ID_ENTRY: None,
    DIRECTORY_ENTRY: "urn:thingbridge:simulator:sensor",
    GATEWAY_ENTRY: f"tracker:teltonika:{TELTONIKA}",
}


@pytest.fixture
def hass_config_dir(
    hass_tmp_config_dir: str, freezer: FrozenDateTimeFactory, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A configuration directory of the test's own (the journal is written there).

    The clock stands at :data:`NOW` from here on, before Home Assistant starts: the access
    token of ``hass_client`` is issued then too, and the simulator and the trackers' online
    state see no jump. aiohttp's access log reads the local UTC offset, which the frozen
    clock does not give: it is told UTC, or each request logs a traceback.
    """
    freezer.move_to(NOW)
    monkeypatch.setattr(AccessLogger, "_cached_tz", UTC)
    monkeypatch.setattr(AccessLogger, "_cached_tz_expires", math.inf)
    return hass_tmp_config_dir


def _scrub(hass: HomeAssistant, diagnostics: dict[str, Any]) -> Any:
    """The diagnostics without what changes from run to run (ports, the config directory)."""
    if "listening" in diagnostics:  # the gateway: every port is chosen by the system
        listening = diagnostics["listening"]
        for key in ("tcp_or_http_ports", "udp_ports"):
            listening[key] = dict.fromkeys(listening[key], "<port>")
    return scrub(diagnostics, {hass.config.config_dir: "<config>"})


@pytest.fixture
async def installation(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    wot_sim_all: WotSimulator,
    http_server: StaticServer,
) -> None:
    """Today's installation, loaded (tests/legacy_layout.py)."""
    await load_installation(hass, hass_storage, wot_sim_all, http_server)


@pytest.mark.usefixtures("installation")
@pytest.mark.parametrize("entry_id", list(DEVICES))
async def test_diagnostics_of_each_kind_of_entry(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    snapshot: SnapshotAssertion,
    entry_id: str,
) -> None:
    entry = hass.config_entries.async_get_known_entry(entry_id)
    entry_diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert _scrub(hass, entry_diagnostics) == snapshot(name="entry")
    device = dr.async_get(hass).async_get_device_by_identifier(
        ("thingbridge", DEVICES[entry_id] or str(entry.unique_id)), entry_id
    )
    assert device is not None
    device_diagnostics = await get_diagnostics_for_device(hass, hass_client, entry, device)
    assert _scrub(hass, device_diagnostics) == snapshot(name="device")
