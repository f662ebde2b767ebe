"""An installation made with today's code loads with the same entities, devices and states.

Issue 9 restructures the glue; nothing may move for users. The config entries, the trackers'
saved counters and the position journal are written in today's layout (tests/legacy_layout.py,
literal data rather than today's flow), loaded as Home Assistant loads them at startup, and
the entity and device registries and the states are compared with a snapshot. A change of a
unique ID, an entity ID, a device identifier, a name, a unit, or of what the stored counters
and journal restore shows up as a snapshot difference.
"""

from __future__ import annotations

from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from syrupy.assertion import SnapshotAssertion

from simulator.wot import WotSimulator

from .conftest import StaticServer
from .legacy_layout import NOW, load_installation, registries

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str, freezer: FrozenDateTimeFactory) -> str:
    """A configuration directory of the test's own (the journal is written there).

    The clock stands at :data:`NOW` from here on, before Home Assistant and the simulator
    start, so that nothing sees it jump (the simulator's hourly tick would change values).
    """
    freezer.move_to(NOW)
    return hass_tmp_config_dir


async def test_registries_of_an_existing_installation(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    wot_sim_all: WotSimulator,
    http_server: StaticServer,
    snapshot: SnapshotAssertion,
) -> None:
    await load_installation(hass, hass_storage, wot_sim_all, http_server)
    assert registries(hass) == snapshot
