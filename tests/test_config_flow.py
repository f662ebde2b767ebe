"""Config flow: menu, manual URL, zeroconf discovery, reconfigure — against the real simulator."""

from __future__ import annotations

from ipaddress import ip_address

from homeassistant import config_entries
from homeassistant.const import CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.thingbridge.config_flow import url_from_zeroconf
from custom_components.thingbridge.const import CONF_KIND, DOMAIN, KIND_WOT_THING
from simulator.wot import WotSimulator

from .conftest import StaticServer, assert_translated, thing_url


def _zeroconf(
    port: int, props: dict[str, str], type_: str = "_wot._tcp.local."
) -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname="sim.local.",
        name=f"sim.{type_}",
        port=port,
        type=type_,
        properties=props,
    )


async def _start_wot_thing_step(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["wot_thing"]
    assert_translated(result)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "wot_thing"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "wot_thing"
    assert_translated(result)
    return result["flow_id"]


async def test_user_adds_thing_by_url(hass: HomeAssistant, wot_sim: WotSimulator) -> None:
    flow_id = await _start_wot_thing_step(hass)
    url = thing_url(wot_sim, "sensor")
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_URL: f"  {url} "})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Simulated Temperature Sensor"
    assert result["data"] == {CONF_KIND: KIND_WOT_THING, CONF_URL: url}
    assert result["result"].unique_id == "urn:thingbridge:simulator:sensor"
    await hass.async_block_till_done()
    assert hass.states.get("sensor.simulated_temperature_sensor_temperature") is not None


async def test_user_errors_then_recovers(hass: HomeAssistant, wot_sim: WotSimulator) -> None:
    flow_id = await _start_wot_thing_step(hass)

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: "ftp://127.0.0.1/td"}
    )
    assert result["errors"] == {"base": "invalid_url"}
    assert_translated(result)

    # Nothing listens on this port.
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: "http://127.0.0.1:9/td"}
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert_translated(result)

    # The server answers, but with a list of property values rather than a TD.
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: f"{thing_url(wot_sim, 'lamp')}/properties/on"}
    )
    assert result["errors"] == {"base": "invalid_td"}
    assert_translated(result)

    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: thing_url(wot_sim, "lamp")}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Simulated Lamp"


async def test_thing_without_id_uses_url(hass: HomeAssistant, http_server: StaticServer) -> None:
    td = {"title": "No id", "properties": {"x": {"type": "number", "forms": [{"href": "/x"}]}}}
    url = http_server.add("/td", td)
    http_server.add("/x", 1)
    flow_id = await _start_wot_thing_step(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_URL: url})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == url


async def test_user_already_configured(
    hass: HomeAssistant, wot_sim: WotSimulator, sensor_entry: MockConfigEntry
) -> None:
    sensor_entry.add_to_hass(hass)
    flow_id = await _start_wot_thing_step(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: thing_url(wot_sim, "sensor")}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert_translated(result)


async def test_zeroconf_discovery_and_confirm(hass: HomeAssistant, wot_sim: WotSimulator) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_ZEROCONF},
        data=_zeroconf(wot_sim.port, {"td": "/things/lamp", "type": "Thing", "scheme": "http"}),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "zeroconf_confirm"
    assert result["description_placeholders"] == {
        "name": "Simulated Lamp",
        "url": thing_url(wot_sim, "lamp"),
    }
    assert_translated(result)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_KIND: KIND_WOT_THING, CONF_URL: thing_url(wot_sim, "lamp")}


async def test_zeroconf_updates_moved_thing(
    hass: HomeAssistant, wot_sim: WotSimulator, sensor_entry: MockConfigEntry
) -> None:
    """A known Thing seen at a new address: the entry's URL follows it."""
    old = dict(sensor_entry.data)
    sensor_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        sensor_entry, data={**old, CONF_URL: "http://127.0.0.1:9/old"}
    )
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_ZEROCONF},
        data=_zeroconf(wot_sim.port, {"path": "things/sensor"}, "_webthing._tcp.local."),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert sensor_entry.data[CONF_URL] == thing_url(wot_sim, "sensor")


async def test_zeroconf_unreachable_or_invalid(hass: HomeAssistant, wot_sim: WotSimulator) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=_zeroconf(9, {})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"
    assert_translated(result)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_ZEROCONF},
        data=_zeroconf(wot_sim.port, {"td": "/things/lamp/properties/brightness"}),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "invalid_td"


def test_url_from_zeroconf_variants() -> None:
    assert url_from_zeroconf(_zeroconf(8080, {})) == "http://127.0.0.1:8080/.well-known/wot"
    assert (
        url_from_zeroconf(_zeroconf(443, {"td": "/td", "scheme": "https"}))
        == "https://127.0.0.1/td"
    )
    assert (
        url_from_zeroconf(_zeroconf(8443, {"path": "/", "tls": "1"})) == "https://127.0.0.1:8443/"
    )
    # An unknown scheme falls back to http rather than producing a URL nothing can fetch.
    assert (
        url_from_zeroconf(_zeroconf(5683, {"td": "td", "scheme": "coap"}))
        == "http://127.0.0.1:5683/td"
    )


async def test_reconfigure(
    hass: HomeAssistant, wot_sim: WotSimulator, sensor_entry: MockConfigEntry
) -> None:
    sensor_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(sensor_entry.entry_id)
    await hass.async_block_till_done()

    result = await sensor_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert_translated(result)

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: "http://127.0.0.1:9/"}
    )
    assert result["errors"] == {"base": "cannot_connect"}

    # A different Thing is refused.
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: thing_url(wot_sim, "lamp")}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_thing"
    assert_translated(result)

    # A second server with the same Thing: the entry moves there.
    other = WotSimulator([wot_sim.things["sensor"]], tick_interval=3600)
    await other.start("127.0.0.1", 0)
    try:
        result = await sensor_entry.start_reconfigure_flow(hass)
        new_url = thing_url(other, "sensor")
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: new_url}
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reconfigure_successful"
        assert_translated(result)
        assert sensor_entry.data[CONF_URL] == new_url
        await hass.async_block_till_done()
    finally:
        await other.stop()


async def test_invalid_td_body_is_named(hass: HomeAssistant, http_server: StaticServer) -> None:
    """A TD whose form has no href is rejected in the flow."""
    url = http_server.add("/td", {"title": "T", "properties": {"p": {"forms": [{}]}}})
    flow_id = await _start_wot_thing_step(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, {CONF_URL: url})
    assert result["errors"] == {"base": "invalid_td"}
