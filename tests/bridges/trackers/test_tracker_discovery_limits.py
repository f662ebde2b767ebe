"""Unknown trackers cannot flood Home Assistant: bounded discovery, one repair issue, clean logs.

An attacker on loopback sent thousands of OsmAnd requests with made-up IDs (each became a
discovery flow and an INFO line) and an ID holding a newline (a forged log line). Here the
same traffic goes over real HTTP into a real Home Assistant.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
import logging
from types import SimpleNamespace
from typing import Any

import aiohttp
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.thingbridge.bridges.trackers import discovery
from custom_components.thingbridge.bridges.trackers.discovery import (
    DISCOVERY_FLOWS_PER_MINUTE,
    DISCOVERY_PENDING_MAX,
    UNKNOWN_TRACKERS_ISSUE,
)
from custom_components.thingbridge.bridges.trackers.runtime import TrackerGatewayRuntime
from custom_components.thingbridge.const import DOMAIN, SUBENTRY_TRACKER
from tests.conftest import TRANSLATIONS
from tests.tracker_support import HOST, gateway_entry, setup_gateway

pytestmark = pytest.mark.usefixtures("socket_enabled")

FLOOD = 500


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of the test's own: the journal is written there."""
    return hass_tmp_config_dir


FORGED = "x\n2026-12-04 12:00:00.000 ERROR (MainThread) [homeassistant.core] FORGED LINE"


def tracker_flows(hass: HomeAssistant) -> list[Any]:
    return [
        f
        for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if str(f["context"].get("unique_id", "")).startswith("tracker:")
    ]


def issue(hass: HomeAssistant) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, UNKNOWN_TRACKERS_ISSUE)


async def post_all(url: str, ids: list[str]) -> list[int]:
    """One Traccar Client request per ID, 20 at a time; the HTTP status of each."""
    statuses: list[int] = []
    async with aiohttp.ClientSession() as session:

        async def one(device_id: str) -> None:
            params = {"id": device_id, "lat": "54.68", "lon": "25.27", "timestamp": "1793520000"}
            async with session.post(url, params=params) as response:
                statuses.append(response.status)

        for start in range(0, len(ids), 20):
            await asyncio.gather(*(one(i) for i in ids[start : start + 20]))
    return statuses


async def test_a_flood_of_unknown_ids_makes_few_flows_and_one_issue(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="custom_components.thingbridge")
    runtime = await setup_gateway(hass, gateway_entry(protocols=("osmand",)))
    url = f"http://{HOST}:{runtime.gateway.ports['osmand']}/"
    ids = [f"probe-{n:04d}" for n in range(FLOOD)]
    assert await post_all(url, ids) == [400] * FLOOD  # unknown: not acknowledged
    await hass.async_block_till_done()
    assert runtime.gateway.stats.rejected == FLOOD
    flows = tracker_flows(hass)
    assert len(flows) == DISCOVERY_FLOWS_PER_MINUTE
    assert {f["context"]["unique_id"] for f in flows} == {
        f"tracker:osmand:{i}" for i in ids[:DISCOVERY_FLOWS_PER_MINUTE]
    }
    offered = [r for r in caplog.records if "is offered under Discovered" in r.getMessage()]
    assert len(offered) == DISCOVERY_FLOWS_PER_MINUTE
    assert "'probe-0000'" in offered[0].getMessage()  # quoted
    warnings = [r for r in caplog.records if "counted in a repair issue" in r.getMessage()]
    assert len(warnings) == 1
    # one issue, its count brought up to date within the update interval
    first = issue(hass)
    assert first is not None
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=11))
    await hass.async_block_till_done()
    shown = issue(hass)
    assert shown is not None
    assert shown.translation_key == UNKNOWN_TRACKERS_ISSUE
    assert shown.severity is ir.IssueSeverity.WARNING
    placeholders = shown.translation_placeholders
    assert placeholders is not None
    assert placeholders["count"] == str(FLOOD - DISCOVERY_FLOWS_PER_MINUTE)
    assert "`probe-0499` (OsmAnd / Traccar Client)" in placeholders["examples"]
    text = TRANSLATIONS["issues"][UNKNOWN_TRACKERS_ISSUE]
    assert text["title"].format(**placeholders).startswith("490 more unknown GPS trackers")
    assert "{" not in text["description"].format(**placeholders)
    assert len(ir.async_get(hass).issues) == 1
    # the device sends again later: still one flow per device, no new offer
    assert await post_all(url, ids[:3]) == [400] * 3
    await hass.async_block_till_done()
    assert len(tracker_flows(hass)) == DISCOVERY_FLOWS_PER_MINUTE
    # one more arrives while an update of the issue is due; unloading cancels that update
    # and takes the issue away
    assert await post_all(url, ["probe-late"]) == [400]
    await hass.async_block_till_done()
    assert len(runtime.discovery.held_back) == FLOOD - DISCOVERY_FLOWS_PER_MINUTE + 1
    await hass.config_entries.async_unload(runtime.entry.entry_id)
    await hass.async_block_till_done()
    assert issue(hass) is None


async def test_a_forged_id_is_refused_and_never_logged_raw(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    runtime = await setup_gateway(hass, gateway_entry(protocols=("osmand",)))
    url = f"http://{HOST}:{runtime.gateway.ports['osmand']}/"
    assert await post_all(url, [FORGED, "é", "a" * 65]) == [400] * 3
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"device_id": FORGED, "location": {}}) as response,
    ):
        assert response.status == 400
    await hass.async_block_till_done()
    assert tracker_flows(hass) == []
    assert issue(hass) is None
    assert runtime.gateway.stats.rejected == 0
    assert runtime.gateway.stats.errors == 4
    assert "FORGED LINE" in caplog.text  # logged at debug, escaped
    for record in caplog.records:
        message = record.getMessage()
        assert not ("\n" in message and "FORGED" in message), message


async def test_held_back_trackers_are_offered_when_there_is_room(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(discovery, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    entry = gateway_entry(protocols=("osmand",))
    runtime: TrackerGatewayRuntime = await setup_gateway(hass, entry)
    ids = [f"phone-{n}" for n in range(DISCOVERY_PENDING_MAX + 3)]
    for minute, batch in enumerate(
        [ids[i : i + DISCOVERY_FLOWS_PER_MINUTE] for i in range(0, len(ids), 10)]
    ):
        clock[0] = 1000.0 + 61 * minute  # a new minute: room for ten more offers
        for device_id in batch:
            runtime.discovery.on_unknown_device("osmand", device_id)
        await hass.async_block_till_done()
    # three minutes, but at most DISCOVERY_PENDING_MAX flows wait at once
    assert len(tracker_flows(hass)) == DISCOVERY_PENDING_MAX
    clock[0] += 61
    runtime.discovery.on_unknown_device("osmand", ids[0])  # asks again: its offer is still there
    await hass.async_block_till_done()
    assert len(tracker_flows(hass)) == DISCOVERY_PENDING_MAX
    assert ("osmand", ids[0]) not in runtime.discovery.held_back
    runtime.discovery.on_unknown_device("osmand", ids[-1])  # held back, asks again: counted once
    assert len(runtime.discovery.held_back) == 3
    assert list(runtime.discovery.held_back) == [("osmand", i) for i in ids[DISCOVERY_PENDING_MAX:]]
    shown = issue(hass)
    assert shown is not None
    assert shown.translation_placeholders is not None
    assert shown.translation_placeholders["count"] == "1"  # later changes wait for the timer
    # the user deals with two offers; a held-back tracker asks again and is offered now
    for flow in tracker_flows(hass)[:2]:
        hass.config_entries.flow.async_abort(flow["flow_id"])
    clock[0] += 61
    runtime.discovery.on_unknown_device("osmand", ids[-1])
    await hass.async_block_till_done()
    assert ("osmand", ids[-1]) not in runtime.discovery.held_back
    assert len(tracker_flows(hass)) == DISCOVERY_PENDING_MAX - 1
    # one held back is added by hand: it no longer counts either
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_TRACKER), context={"source": "user"}
    )
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"protocol": "osmand", "device_id": ids[-2], "name": "Phone"}
    )
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    assert list(runtime.discovery.held_back) == [("osmand", ids[-3])]
    clock[0] += 61
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=11))
    await hass.async_block_till_done()
    shown = issue(hass)
    assert shown is not None
    assert shown.translation_placeholders is not None
    assert shown.translation_placeholders["count"] == "1"
    # the last one is offered: the issue goes away
    for flow in tracker_flows(hass)[:1]:
        hass.config_entries.flow.async_abort(flow["flow_id"])
    runtime.discovery.on_unknown_device("osmand", ids[-3])
    await hass.async_block_till_done()
    assert runtime.discovery.held_back == {}
    assert issue(hass) is None
