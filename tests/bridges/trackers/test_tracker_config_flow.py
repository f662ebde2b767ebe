"""Config flow of the GPS tracker gateway: gateway step, options, tracker subentries, discovery.

Entries are set up for real: the gateway listens on 127.0.0.1 on ports the system picks (the
flow's defaults are Traccar's ports on every interface; the tests replace those two defaults,
the only things they replace). Port checks bind real sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
import re
import socket
from typing import Any

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.thingbridge.bridges.trackers import flow as tracker_flow
from custom_components.thingbridge.bridges.trackers.runtime import (
    TrackerGatewayRuntime,
    async_check_ports,
)
from custom_components.thingbridge.config_flow import (
    ThingBridgeConfigFlow,
    ThingBridgeOptionsFlow,
    TrackerGatewayOptionsFlow,
)
from custom_components.thingbridge.const import (
    CONF_KIND,
    DOMAIN,
    KIND_TRACKER_GATEWAY,
    KIND_WOT_THING,
    SUBENTRY_TRACKER,
    TRACKER_GATEWAY_UNIQUE_ID,
    TRACKER_PROTOCOLS,
    TRACKER_SOURCES,
)
from custom_components.thingbridge.m2m import GatewayError
from tests.bridges.wot.test_config_flow import check, check_options, fields, suggested
from tests.conftest import TRANSLATIONS
from tests.tracker_support import HOST, IDS, gateway_entry, setup_gateway

pytestmark = pytest.mark.usefixtures("socket_enabled")

type Result = Mapping[str, Any]
IMEI = IDS["teltonika"]


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of the test's own: the journal is written there."""
    return hass_tmp_config_dir


@pytest.fixture(autouse=True)
def loopback_defaults(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The gateway step's defaults: loopback and free ports instead of Traccar's on 0.0.0.0."""
    ports = dict.fromkeys(TRACKER_PROTOCOLS, 0)
    monkeypatch.setattr(tracker_flow, "DEFAULT_LISTEN_HOST", HOST)
    monkeypatch.setattr(tracker_flow, "default_ports", lambda: dict(ports))
    return ports


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback TCP port another program listens on."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def check_subentry(result: Result) -> Result:
    """Every step, error and abort of a tracker subentry flow has its English text."""
    text = TRANSLATIONS["config_subentries"][SUBENTRY_TRACKER]
    if result["type"] is FlowResultType.FORM:
        step = text["step"][result["step_id"]]
        for key in fields(result):
            assert key in step["data"], key
            assert key in step["data_description"], key
        for error in (result.get("errors") or {}).values():
            assert error in text["error"], error
    elif result["type"] is FlowResultType.ABORT:
        assert result["reason"] in text["abort"], result["reason"]
    return result


def assert_placeholders_named(result: Result, error: str, where: str = "config") -> None:
    """The error's text names only placeholders the form gives."""
    text = TRANSLATIONS[where]["error"][error]
    needed = set(re.findall(r"{(\w+)}", text))
    assert needed <= set(result["description_placeholders"]), needed


async def open_gateway_step(hass: HomeAssistant) -> Result:
    result = check(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_USER}
        )
    )
    assert KIND_TRACKER_GATEWAY in result["menu_options"]
    return check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": KIND_TRACKER_GATEWAY}
        )
    )


def gateway_input(
    protocols: list[str], lenient: bool = False, minutes: int = 10, **ports: int
) -> dict[str, Any]:
    """What the gateway step is submitted with: loopback, free ports unless ``ports`` say."""
    return {
        "protocols": protocols,
        **{f"port_{p}": ports.get(p, 0) for p in TRACKER_PROTOCOLS},
        "listen_host": HOST,
        "lenient": lenient,
        "offline_minutes": minutes,
    }


# ------------------------------------------------------------------------------ gateway step


async def test_gateway_step_creates_the_one_gateway(hass: HomeAssistant) -> None:
    result = await open_gateway_step(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == KIND_TRACKER_GATEWAY
    assert fields(result) == [
        "protocols",
        *(f"port_{p}" for p in TRACKER_PROTOCOLS),
        "listen_host",
        "lenient",
        "offline_minutes",
        "traccar_topic",
    ]
    assert suggested(result, "protocols") == list(TRACKER_PROTOCOLS)
    assert suggested(result, "listen_host") == HOST
    assert suggested(result, "port_teltonika") == 0
    assert suggested(result, "lenient") is False
    assert suggested(result, "offline_minutes") == 10
    result = check(
        await hass.config_entries.flow.async_configure(result["flow_id"], gateway_input([]))
    )
    assert result["errors"] == {"base": "no_protocols"}
    result = check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], gateway_input(["osmand", "teltonika"], lenient=True, minutes=5)
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == TRACKER_GATEWAY_UNIQUE_ID
    assert dict(entry.data) == {CONF_KIND: KIND_TRACKER_GATEWAY}
    assert entry.options == {
        "protocols": ["teltonika", "osmand"],
        "ports": dict.fromkeys(TRACKER_PROTOCOLS, 0),
        "listen_host": HOST,
        "lenient": True,
        "offline_minutes": 5,
    }
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    runtime: TrackerGatewayRuntime = entry.runtime_data
    assert set(runtime.gateway.ports) == {"teltonika", "osmand"}
    assert runtime.settings.lenient is True
    # one gateway per Home Assistant
    result = await open_gateway_step(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "gateway_exists"


async def test_gateway_step_names_the_port_in_use(
    hass: HomeAssistant, loopback_defaults: dict[str, int], busy_port: int
) -> None:
    """A port taken is shown at its field on the same form, where another one can be chosen."""
    loopback_defaults["gt06"] = busy_port
    result = await open_gateway_step(hass)
    assert suggested(result, "port_gt06") == busy_port
    result = check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], gateway_input(["teltonika", "gt06"], gt06=busy_port)
        )
    )
    assert result["errors"] == {"port_gt06": "port_in_use"}
    assert "in the options" not in TRANSLATIONS["config"]["error"]["port_in_use"]
    placeholders = result["description_placeholders"]
    assert (placeholders["port"], placeholders["protocol"], placeholders["transport"]) == (
        str(busy_port),
        "GT06 / Concox",
        "TCP",
    )
    assert_placeholders_named(result, "port_in_use")
    # the form still offers what was submitted
    assert suggested(result, "port_gt06") == busy_port
    # another port for that protocol, on the same form: the gateway is created with it
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        free = int(sock.getsockname()[1])
    result = check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], gateway_input(["teltonika", "gt06"], gt06=free)
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].options["ports"]["gt06"] == free
    await hass.async_block_till_done()
    assert result["result"].runtime_data.gateway.ports["gt06"] == free


async def test_gateway_step_listen_address(hass: HomeAssistant) -> None:
    result = await open_gateway_step(hass)
    data = gateway_input(["osmand"]) | {"listen_host": "not an address"}
    result = check(await hass.config_entries.flow.async_configure(result["flow_id"], data))
    assert result["errors"] == {"base": "invalid_host"}
    data = gateway_input(["osmand"]) | {"listen_host": " ::1 "}
    result = check(await hass.config_entries.flow.async_configure(result["flow_id"], data))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].options["listen_host"] == "::1"
    await hass.async_block_till_done()


def test_protocol_labels_name_no_port() -> None:
    """The ports can be changed, so the protocols' labels do not state Traccar's."""
    labels = TRANSLATIONS["selector"]["tracker_protocol"]["options"]
    assert set(labels) == set(TRACKER_SOURCES)  # the protocols and Traccar's forwarding
    for label in labels.values():
        assert not re.search(r"\bport\b|\d{4}", label), label


async def test_abandoned_gateway_form_does_not_block_the_next(hass: HomeAssistant) -> None:
    """A gateway form left open (browser tab closed) does not answer the next attempt
    with "already in progress"; still only one gateway can be created."""
    abandoned = await open_gateway_step(hass)
    assert abandoned["type"] is FlowResultType.FORM
    result = await open_gateway_step(hass)
    assert result["type"] is FlowResultType.FORM, result.get("reason")
    assert result["step_id"] == KIND_TRACKER_GATEWAY
    result = check(
        await hass.config_entries.flow.async_configure(result["flow_id"], gateway_input(["h02"]))
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == TRACKER_GATEWAY_UNIQUE_ID
    await hass.async_block_till_done()
    # a third attempt: there is a gateway already
    result = await open_gateway_step(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "gateway_exists"
    # the abandoned form, submitted after all, does not make a second gateway
    result = check(
        await hass.config_entries.flow.async_configure(
            abandoned["flow_id"], gateway_input(["teltonika"])
        )
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "gateway_exists"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_two_gateway_forms_submitted_at_once_make_one_gateway(hass: HomeAssistant) -> None:
    first = await open_gateway_step(hass)
    second = await open_gateway_step(hass)
    results = await asyncio.gather(
        hass.config_entries.flow.async_configure(first["flow_id"], gateway_input(["h02"])),
        hass.config_entries.flow.async_configure(second["flow_id"], gateway_input(["coban"])),
    )
    assert sorted(r["type"] for r in results) == sorted(
        [FlowResultType.CREATE_ENTRY, FlowResultType.ABORT]
    )
    assert {r.get("reason") for r in results} == {None, "gateway_exists"}
    await hass.async_block_till_done()
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


# ------------------------------------------------------------------------------ options


async def open_options(hass: HomeAssistant, entry: MockConfigEntry) -> Result:
    result = check_options(await hass.config_entries.options.async_init(entry.entry_id))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "gateway"
    return result


def options_input(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "protocols": list(TRACKER_PROTOCOLS),
        **{f"port_{p}": 0 for p in TRACKER_PROTOCOLS},
        "listen_host": HOST,
        "lenient": False,
        "offline_minutes": 10,
    }
    return data | changes


async def configure_options(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> Result:
    return check_options(await hass.config_entries.options.async_configure(flow_id, data))


async def test_options_change_ports_and_reload(hass: HomeAssistant, busy_port: int) -> None:
    entry = gateway_entry(protocols=("teltonika", "h02"))
    runtime = await setup_gateway(hass, entry)
    result = await open_options(hass, entry)
    assert fields(result) == [
        "protocols",
        *(f"port_{p}" for p in TRACKER_PROTOCOLS),
        "listen_host",
        "lenient",
        "offline_minutes",
        "traccar_topic",
    ]
    assert suggested(result, "protocols") == ["teltonika", "h02"]
    assert suggested(result, "port_teltonika") == 0
    assert suggested(result, "listen_host") == HOST
    flow_id = result["flow_id"]

    result = await configure_options(hass, flow_id, options_input(protocols=[]))
    assert result["errors"] == {"base": "no_protocols"}
    result = await configure_options(hass, flow_id, options_input(listen_host="not an address"))
    assert result["errors"] == {"base": "invalid_host"}
    result = await configure_options(
        hass, flow_id, options_input(port_gt06=busy_port, port_coban=busy_port)
    )
    assert result["errors"] == {"base": "duplicate_port"}
    assert result["description_placeholders"]["port"] == str(busy_port)
    assert_placeholders_named(result, "duplicate_port", "options")
    result = await configure_options(hass, flow_id, options_input(port_osmand=busy_port))
    assert result["errors"] == {"port_osmand": "port_in_use"}
    assert result["description_placeholders"]["protocol"] == "OsmAnd / Traccar Client"
    assert result["description_placeholders"]["transport"] == "HTTP"
    # an address this host does not have (TEST-NET-1): binding fails, nothing is sent
    result = await configure_options(hass, flow_id, options_input(listen_host="192.0.2.1"))
    assert result["errors"] == {"base": "cannot_listen"}
    assert result["description_placeholders"]["error"]
    assert_placeholders_named(result, "cannot_listen", "options")

    # the port the running gateway holds is not "in use": it is freed by the reload
    held = runtime.gateway.ports["teltonika"]
    result = await configure_options(
        hass,
        flow_id,
        options_input(protocols=["teltonika", "osmand"], port_teltonika=held, lenient=True),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    reloaded: TrackerGatewayRuntime = entry.runtime_data
    assert reloaded is not runtime
    assert reloaded.gateway.ports["teltonika"] == held
    assert set(reloaded.gateway.ports) == {"teltonika", "osmand"}
    assert reloaded.settings.lenient is True
    assert not runtime.journal.is_open


async def test_options_of_a_gateway_that_is_not_loaded(hass: HomeAssistant) -> None:
    entry = gateway_entry()
    entry.add_to_hass(hass)  # not set up: nothing is held, every port is checked
    result = await open_options(hass, entry)
    result = await configure_options(hass, result["flow_id"], options_input(offline_minutes=30))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["offline_minutes"] == 30


async def test_options_and_subentry_types_by_entry_kind(hass: HomeAssistant) -> None:
    gateway = gateway_entry()
    thing = MockConfigEntry(domain=DOMAIN, data={CONF_KIND: KIND_WOT_THING, "url": "http://x/"})
    assert isinstance(
        ThingBridgeConfigFlow.async_get_options_flow(gateway), TrackerGatewayOptionsFlow
    )
    assert isinstance(ThingBridgeConfigFlow.async_get_options_flow(thing), ThingBridgeOptionsFlow)
    assert set(ThingBridgeConfigFlow.async_get_supported_subentry_types(gateway)) == {
        SUBENTRY_TRACKER
    }
    assert ThingBridgeConfigFlow.async_get_supported_subentry_types(thing) == {}


# ------------------------------------------------------------------------------ subentries


async def start_subentry(hass: HomeAssistant, entry: MockConfigEntry) -> Result:
    return check_subentry(
        await hass.config_entries.subentries.async_init(
            (entry.entry_id, SUBENTRY_TRACKER), context={"source": config_entries.SOURCE_USER}
        )
    )


async def test_tracker_subentry_by_hand(hass: HomeAssistant) -> None:
    entry = gateway_entry(protocols=("teltonika", "osmand"))
    runtime = await setup_gateway(hass, entry)
    result = await start_subentry(hass, entry)
    assert result["step_id"] == "user"
    assert fields(result) == ["protocol", "device_id", "name"]
    assert suggested(result, "protocol") == "teltonika"
    selector = result["data_schema"].schema
    protocol_field = next(v for k, v in selector.items() if str(k) == "protocol")
    assert protocol_field.config["options"] == ["teltonika", "osmand"]  # the enabled ones

    async def submit(flow_id: str, data: dict[str, Any]) -> Result:
        return check_subentry(await hass.config_entries.subentries.async_configure(flow_id, data))

    flow_id = result["flow_id"]
    for protocol, bad in (
        ("teltonika", "35630 7042441013"),
        ("teltonika", "IMEI356307042441013"),
        ("teltonika", "35630704244101"),  # 14 digits: no device sends it
        ("teltonika", ""),
        ("osmand", "9" * 65),
        ("osmand", "phone 7"),
    ):
        result = await submit(flow_id, {"protocol": protocol, "device_id": bad})
        assert result["errors"] == {"device_id": "invalid_device_id"}, bad
    result = await submit(flow_id, {"protocol": "teltonika", "device_id": f" {IMEI} "})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Teltonika {IMEI}"
    await hass.async_block_till_done()
    assert runtime.is_registered("teltonika", IMEI)
    # the same tracker again
    result = await start_subentry(hass, entry)
    result = await submit(result["flow_id"], {"protocol": "teltonika", "device_id": IMEI})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    # an OsmAnd identifier may hold letters; the name is taken as given
    result = await start_subentry(hass, entry)
    result = await submit(
        result["flow_id"], {"protocol": "osmand", "device_id": "phone-7", "name": " Anna "}
    )
    assert result["title"] == "Anna"
    await hass.async_block_till_done()
    assert runtime.is_registered("osmand", "phone-7")
    assert [s.title for s in entry.subentries.values()] == [f"Teltonika {IMEI}", "Anna"]


# ------------------------------------------------------------------------------ discovery


async def discover(hass: HomeAssistant, protocol: str, device_id: str) -> Result:
    return check(
        await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": config_entries.SOURCE_INTEGRATION_DISCOVERY},
            data={"protocol": protocol, "device_id": device_id},
        )
    )


async def test_discovered_tracker_is_confirmed_into_a_subentry(hass: HomeAssistant) -> None:
    entry = gateway_entry()
    runtime = await setup_gateway(hass, entry)
    result = await discover(hass, "gt06", IDS["gt06"])
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "tracker_confirm"
    assert result["description_placeholders"] == {
        "device_id": IDS["gt06"],
        "protocol": "GT06 / Concox",
    }
    assert suggested(result, "name") == f"GT06 / Concox {IDS['gt06']}"
    # the same tracker again while the first offer is open
    again = await discover(hass, "gt06", IDS["gt06"])
    assert again["type"] is FlowResultType.ABORT
    assert again["reason"] == "already_in_progress"
    result = check(await hass.config_entries.flow.async_configure(result["flow_id"], {}))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "tracker_added"
    name = f"GT06 / Concox {IDS['gt06']}"
    assert result["description_placeholders"] == {"name": name}
    await hass.async_block_till_done()
    [subentry] = entry.subentries.values()
    assert subentry.title == name
    assert subentry.unique_id == f"gt06:{IDS['gt06']}"
    assert runtime.is_registered("gt06", IDS["gt06"])
    # once added it is not offered again
    result = await discover(hass, "gt06", IDS["gt06"])
    assert result["reason"] == "already_configured"


async def test_discovery_aborts(hass: HomeAssistant) -> None:
    result = await discover(hass, "teltonika", IMEI)
    assert result["reason"] == "no_gateway"
    for protocol, device_id in (("gps103", IMEI), ("teltonika", ""), ("osmand", "a\nb")):
        result = await discover(hass, protocol, device_id)
        assert result["reason"] == "invalid_discovery_info"
    entry = gateway_entry()
    await setup_gateway(hass, entry)
    # the user ignores a tracker: it is not offered again
    result = await discover(hass, "teltonika", IMEI)
    ignored = check(
        await hass.config_entries.flow.async_init(
            DOMAIN,
            context={"source": config_entries.SOURCE_IGNORE},
            data={"unique_id": f"tracker:teltonika:{IMEI}", "title": IMEI},
        )
    )
    assert ignored["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    result = await discover(hass, "teltonika", IMEI)
    assert result["reason"] == "already_configured"
    # the gateway goes away while an offer is open
    result = await discover(hass, "h02", IDS["h02"])
    assert result["step_id"] == "tracker_confirm"
    menu = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    # removing the gateway withdrew its offers (and only those)
    assert [f["flow_id"] for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN)] == [
        menu["flow_id"]
    ]


async def test_confirm_after_the_gateway_went_away(hass: HomeAssistant) -> None:
    entry = gateway_entry()
    entry.add_to_hass(hass)
    result = await discover(hass, "h02", IDS["h02"])
    assert result["step_id"] == "tracker_confirm"
    # the gateway entry can no longer be found (a race with its removal)
    hass.config_entries.async_update_entry(entry, unique_id="something else")
    result = check(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"name": "Trailer"})
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "no_gateway"


# ------------------------------------------------------------------------------ port check


async def test_port_check_binds_only_what_is_not_held(busy_port: int) -> None:
    await async_check_ports(HOST, {"gt06": busy_port}, held={busy_port})  # ours: not bound
    with pytest.raises(GatewayError) as caught:
        await async_check_ports(HOST, {"gt06": busy_port})
    assert (caught.value.protocol, caught.value.port) == ("gt06", busy_port)


async def test_gateway_cannot_be_reconfigured(hass: HomeAssistant) -> None:
    """The gateway has no URL: Reconfigure points to its options instead of failing."""
    entry = gateway_entry()
    entry.add_to_hass(hass)
    result = check(await entry.start_reconfigure_flow(hass))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "gateway_reconfigure"
