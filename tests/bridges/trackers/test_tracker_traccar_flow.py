"""The gateway's Traccar MQTT option in the config, options and subentry flows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.thingbridge.bridges.trackers.runtime import TrackerGatewayRuntime
from custom_components.thingbridge.const import DOMAIN, SUBENTRY_TRACKER, TRACKER_PROTOCOLS
from tests.bridges.trackers.test_tracker_config_flow import (
    assert_placeholders_named,
    check_subentry,
    configure_options,
    gateway_input,
    open_gateway_step,
    open_options,
    options_input,
)
from tests.bridges.wot.test_config_flow import check, suggested
from tests.conftest import TRANSLATIONS
from tests.mosquitto_support import home_assistant_mqtt
from tests.tracker_support import gateway_entry, setup_gateway, wait_for

pytestmark = pytest.mark.usefixtures("socket_enabled")

BAD_TOPICS = ("a/#/b", "a+/b", "a/b#", "x" * 257, "tab\there")


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of the test's own: the journal is written there."""
    return hass_tmp_config_dir


@pytest.fixture
async def broker(hass: HomeAssistant, tmp_path: Path) -> AsyncIterator[int]:
    """Mosquitto and Home Assistant's MQTT integration connected to it."""
    async with home_assistant_mqtt(hass, tmp_path) as port:
        yield port


async def submit(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> Any:
    return check(await hass.config_entries.flow.async_configure(flow_id, data))


def test_new_strings_are_translated() -> None:
    """Every new field, error and option has English text."""
    for section, step in (("config", "tracker_gateway"), ("options", "gateway")):
        texts = TRANSLATIONS[section]
        assert texts["step"][step]["data"]["traccar_topic"]
        assert "positions" in texts["step"][step]["data_description"]["traccar_topic"]
        assert texts["error"]["invalid_topic"]
        assert texts["error"]["mqtt_not_set_up"]
    assert TRANSLATIONS["selector"]["tracker_protocol"]["options"]["traccar"]


async def test_gateway_step_needs_mqtt_for_the_traccar_topic(hass: HomeAssistant) -> None:
    """Without Home Assistant's MQTT integration the topic is refused, naming why."""
    result = await open_gateway_step(hass)
    assert suggested(result, "traccar_topic") == ""
    result = await submit(hass, result["flow_id"], gateway_input([]) | {"traccar_topic": " "})
    assert result["errors"] == {"base": "no_protocols"}
    result = await submit(
        hass, result["flow_id"], gateway_input([]) | {"traccar_topic": "positions"}
    )
    assert result["errors"] == {"base": "mqtt_not_set_up"}
    assert_placeholders_named(result, "mqtt_not_set_up")


async def test_gateway_step_with_only_traccar(hass: HomeAssistant, broker: int) -> None:
    """With MQTT set up, a gateway of only the Traccar topic opens no port and subscribes."""
    result = await open_gateway_step(hass)
    for topic in BAD_TOPICS:
        result = await submit(hass, result["flow_id"], gateway_input([]) | {"traccar_topic": topic})
        assert result["errors"] == {"base": "invalid_topic"}, topic
    result = await submit(
        hass, result["flow_id"], gateway_input([]) | {"traccar_topic": " traccar/+/positions/# "}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.options["protocols"] == []
    assert entry.options["traccar_topic"] == "traccar/+/positions/#"
    await hass.async_block_till_done()
    runtime: TrackerGatewayRuntime = entry.runtime_data
    assert runtime.gateway.ports == {}
    assert runtime.gateway.udp_ports == {}
    assert runtime.gateway.last_seen("traccar", "x") is None
    await wait_for(hass, lambda: runtime.traccar.subscribed, "the subscription")

    # a tracker added by hand: only Traccar is offered, as no protocol is listened to
    result = check_subentry(
        await hass.config_entries.subentries.async_init(
            (entry.entry_id, SUBENTRY_TRACKER), context={"source": config_entries.SOURCE_USER}
        )
    )
    protocol_field = next(
        v for k, v in result["data_schema"].schema.items() if str(k) == "protocol"
    )
    assert protocol_field.config["options"] == ["traccar"]
    result = check_subentry(
        await hass.config_entries.subentries.async_configure(
            result["flow_id"], {"protocol": "traccar", "device_id": "van-3"}
        )
    )
    assert result["title"] == "Traccar van-3"
    await hass.async_block_till_done()
    assert runtime.is_registered("traccar", "van-3")
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_options_add_and_remove_the_traccar_topic(hass: HomeAssistant, broker: int) -> None:
    """The options take a topic (the entry reloads and subscribes), and can drop it again."""
    entry = gateway_entry(protocols=("teltonika",))
    runtime = await setup_gateway(hass, entry)
    assert not runtime.settings.traccar_topic
    result = await open_options(hass, entry)
    assert suggested(result, "traccar_topic") == ""
    flow_id = result["flow_id"]
    result = await configure_options(
        hass, flow_id, options_input(protocols=["teltonika"], traccar_topic="a/#/b")
    )
    assert result["errors"] == {"base": "invalid_topic"}
    result = await configure_options(
        hass, flow_id, options_input(protocols=["teltonika"], traccar_topic="positions")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    runtime = entry.runtime_data
    assert runtime.settings.traccar_topic == "positions"
    assert set(runtime.gateway.ports) == {"teltonika"}
    await wait_for(hass, lambda: runtime.traccar.subscribed, "the subscription")
    # the manual tracker form offers the listened-to protocol and Traccar
    result = check_subentry(
        await hass.config_entries.subentries.async_init(
            (entry.entry_id, SUBENTRY_TRACKER), context={"source": config_entries.SOURCE_USER}
        )
    )
    protocol_field = next(
        v for k, v in result["data_schema"].schema.items() if str(k) == "protocol"
    )
    assert protocol_field.config["options"] == ["teltonika", "traccar"]
    result = await open_options(hass, entry)
    assert suggested(result, "traccar_topic") == "positions"
    result = await configure_options(
        hass, result["flow_id"], options_input(protocols=["teltonika"], traccar_topic="")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert "traccar_topic" not in entry.options
    assert entry.runtime_data.traccar.subscribed is False


async def test_traccar_discovery_is_accepted(hass: HomeAssistant) -> None:
    """A discovery of a Traccar uniqueId is a valid offer (its ID rule is the library's)."""
    entry = gateway_entry(protocols=(TRACKER_PROTOCOLS[0],))
    await setup_gateway(hass, entry)
    for device_id in ("van 3", "x" * 65, ""):
        result = check(
            await hass.config_entries.flow.async_init(
                DOMAIN,
                context={"source": config_entries.SOURCE_INTEGRATION_DISCOVERY},
                data={"protocol": "traccar", "device_id": device_id},
            )
        )
        assert result["reason"] == "invalid_discovery_info", device_id
    result = check(
        await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": config_entries.SOURCE_INTEGRATION_DISCOVERY},
            data={"protocol": "traccar", "device_id": "van@fleet-3"},
        )
    )
    assert result["step_id"] == "tracker_confirm"
    assert result["description_placeholders"] == {"device_id": "van@fleet-3", "protocol": "Traccar"}
