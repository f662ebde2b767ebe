"""Config flow: every step, error and abort, against real servers on loopback.

Things and directories are the simulator's (or a test server's) on 127.0.0.1; the flow talks to
them over real HTTP through Home Assistant's shared aiohttp session. Only the entry *setup* is
replaced by a recorder (the flow is the unit here; tests/bridges/wot/test_init.py sets entries up for real),
so a test can tell that an entry was (re)loaded and with which data.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from ipaddress import ip_address
import logging
import re
import socket
from typing import Any

from aiohttp import web
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_API_KEY, CONF_PASSWORD, CONF_TOKEN, CONF_URL, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from yarl import URL

import custom_components.thingbridge as integration
from custom_components.thingbridge.bridges.wot.flow import MAX_REASON_CHARS
from custom_components.thingbridge.bridges.wot.runtime import (
    CONF_MAX_THINGS,
    DIRECTORY_MAX_THINGS,
    DIRECTORY_MAX_THINGS_LIMIT,
)
from custom_components.thingbridge.const import (
    CONF_ALLOW_OTHER_HOSTS,
    CONF_KIND,
    DOMAIN,
    KIND_ASSET_REGISTER,
    KIND_MODBUS_DEVICE,
    KIND_TRACKER_GATEWAY,
    KIND_WOT_DIRECTORY,
    KIND_WOT_THING,
)
from custom_components.thingbridge.wot.td import MAX_AFFORDANCES
from simulator.things import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    make_lock,
    make_plug,
    make_webthing_switch,
)
from simulator.wot import WotSimulator, make_lamp
from tests.conftest import TRANSLATIONS, StaticServer, assert_translated, thing_url

LAMP_ID = "urn:thingbridge:simulator:lamp"
SENSOR_ID = "urn:thingbridge:simulator:sensor"
LOCK_ID = "urn:thingbridge:simulator:lock"
PLUG_ID = "urn:thingbridge:simulator:plug"
DIRECTORY_TITLE = "ThingBridge Simulator Directory"
WOT = "_wot._tcp.local."
WEBTHING = "_webthing._tcp.local."

type Result = Mapping[str, Any]
# Longer menu labels are cut off in the add-integration dialog.
MAX_MENU_LABEL = 40


# ------------------------------------------------------------------------------------------
# helpers


def check(result: Result) -> Result:
    """``assert_translated``, plus: every field has a label and every placeholder a value."""
    assert_translated(result)
    if result["type"] is FlowResultType.FORM:
        _check_form(TRANSLATIONS["config"]["step"][result["step_id"]], result)
    return result


def check_options(result: Result) -> Result:
    """The options flow's counterpart of :func:`check`."""
    if result["type"] is FlowResultType.FORM:
        steps = TRANSLATIONS["options"]["step"]
        assert result["step_id"] in steps, f"options step {result['step_id']} has no text"
        _check_form(steps[result["step_id"]], result)
    return result


def _check_form(text: Mapping[str, Any], result: Result) -> None:
    needed = set(re.findall(r"{(\w+)}", text.get("description", "")))
    given = set(result["description_placeholders"] or {})
    assert needed <= given, f"{result['step_id']}: placeholders {needed - given} not given"
    for key in fields(result):
        assert key in text.get("data", {}), f"{result['step_id']}: field {key} has no label"
        assert key in text.get("data_description", {}), f"{result['step_id']}: {key} undescribed"


def fields(result: Result) -> list[str]:
    """The field names of a form, in order."""
    schema = result["data_schema"]
    return [] if schema is None else [str(marker) for marker in schema.schema]


def suggested(result: Result, key: str) -> Any:
    """The value a form suggests for ``key``."""
    for marker in result["data_schema"].schema:
        if str(marker) == key:
            return (marker.description or {}).get("suggested_value")
    raise AssertionError(f"no field {key}")


def free_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def zeroconf(
    port: int, properties: dict[str, str], type_: str = WOT, name: str = "Sim"
) -> ZeroconfServiceInfo:
    return ZeroconfServiceInfo(
        ip_address=ip_address("127.0.0.1"),
        ip_addresses=[ip_address("127.0.0.1")],
        hostname="sim.local.",
        name=f"{name}.{type_}",
        port=port,
        type=type_,
        properties=properties,
    )


async def discover(hass: HomeAssistant, info: ZeroconfServiceInfo) -> Result:
    return check(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_ZEROCONF}, data=info
        )
    )


async def start(hass: HomeAssistant, kind: str) -> str:
    """Open the menu, pick ``kind``; return the flow id of its URL form."""
    result = check(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_USER}
        )
    )
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == [
        KIND_WOT_THING,
        KIND_WOT_DIRECTORY,
        KIND_MODBUS_DEVICE,
        KIND_TRACKER_GATEWAY,
        KIND_ASSET_REGISTER,
    ]
    result = check(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": kind})
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == kind
    assert fields(result) == [CONF_URL]
    assert result["errors"] == {}
    return str(result["flow_id"])


async def submit(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> Result:
    return check(await hass.config_entries.flow.async_configure(flow_id, data))


def assert_error(result: Result, step_id: str, error: str) -> None:
    assert result["type"] is FlowResultType.FORM, result
    assert result["step_id"] == step_id
    assert result["errors"] == {"base": error}


def assert_abort(result: Result, reason: str) -> None:
    assert result["type"] is FlowResultType.ABORT, result
    assert result["reason"] == reason


def entries(hass: HomeAssistant) -> list[ConfigEntry]:
    return hass.config_entries.async_entries(DOMAIN)


def thing_td(
    title: str = "Static Thing", *, id_: str | None = None, security: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A small valid TD (one readable property at ``/value``)."""
    definitions = security or {"nosec_sc": {"scheme": "nosec"}}
    td: dict[str, Any] = {
        "@context": "https://www.w3.org/2022/wot/td/v1.1",
        "title": title,
        "securityDefinitions": definitions,
        "security": list(definitions),
        "properties": {"value": {"type": "number", "forms": [{"href": "/value"}]}},
    }
    if id_ is not None:
        td["id"] = id_
    return td


def directory_entry(url: str, **extra: Any) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title="Directory",
        unique_id=url,
        data={CONF_KIND: KIND_WOT_DIRECTORY, CONF_URL: url, **extra},
    )


def thing_entry(url: str, unique_id: str, title: str = "Thing", **extra: Any) -> MockConfigEntry:
    return MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=unique_id,
        data={CONF_KIND: KIND_WOT_THING, CONF_URL: url, **extra},
    )


# ------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(autouse=True)
def setups(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record entry setups (the data each one saw) instead of starting the Things."""
    seen: list[dict[str, Any]] = []

    async def setup_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        seen.append(dict(entry.data))
        return True

    async def unload_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
        return True

    monkeypatch.setattr(integration, "async_setup_entry", setup_entry)
    monkeypatch.setattr(integration, "async_unload_entry", unload_entry)
    return seen


async def _serve(things: list[Any], **kwargs: Any) -> WotSimulator:
    sim = WotSimulator(things, tick_interval=3600, **kwargs)
    await sim.start("127.0.0.1", 0)
    return sim


@pytest.fixture
async def secured_sim(socket_enabled: None) -> AsyncGenerator[WotSimulator]:
    """A lock behind HTTP basic (admin/simulator) and a plug behind a bearer token."""
    sim = await _serve([make_lock(), make_plug(token="plug-token")])
    yield sim
    await sim.stop()


@pytest.fixture
async def protected_sim(socket_enabled: None) -> AsyncGenerator[WotSimulator]:
    """The lock again, but its TD itself needs the credentials too."""
    sim = await _serve([make_lock()], protect_tds=True)
    yield sim
    await sim.stop()


@pytest.fixture
async def one_webthing_sim(socket_enabled: None) -> AsyncGenerator[WotSimulator]:
    """A WebThings server with one Thing (next to a TD-dialect lamp it does not list)."""
    sim = await _serve([make_webthing_switch(), make_lamp()])
    yield sim
    await sim.stop()


@pytest.fixture
async def two_webthings_sim(socket_enabled: None) -> AsyncGenerator[WotSimulator]:
    """A WebThings server with two Things."""
    lamp = make_lamp()
    lamp.dialect = "webthings"
    sim = await _serve([make_webthing_switch(), lamp])
    yield sim
    await sim.stop()


DIRECTORY_TOKEN = "directory-token"


@pytest.fixture
async def secured_directory(socket_enabled: None) -> AsyncGenerator[str]:
    """A directory listing at ``/things`` that needs a bearer token; yields its URL."""
    listed = thing_td("Listed Thing", id_="urn:test:listed")

    async def listing(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {DIRECTORY_TOKEN}":
            return web.json_response(
                {"title": "Unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return web.json_response([listed])

    app = web.Application()
    app.router.add_get("/things", listing)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/things"
    await runner.cleanup()


# ------------------------------------------------------------------------------------------
# a Thing by URL


async def test_thing_by_url(
    hass: HomeAssistant, wot_sim: WotSimulator, setups: list[dict[str, Any]]
) -> None:
    flow_id = await start(hass, KIND_WOT_THING)
    url = thing_url(wot_sim, "sensor")
    result = await submit(hass, flow_id, {CONF_URL: f"  {url} "})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Simulated Temperature Sensor"
    assert result["data"] == {CONF_KIND: KIND_WOT_THING, CONF_URL: url}
    assert result["options"] == {}
    entry = result["result"]
    assert entry.unique_id == SENSOR_ID
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert setups == [{CONF_KIND: KIND_WOT_THING, CONF_URL: url}]


def test_menu_labels_fit_the_menu() -> None:
    """The first step's menu shows each label whole (a long one was cut off, issue 10)."""
    labels = TRANSLATIONS["config"]["step"]["user"]["menu_options"]
    assert set(labels) == {
        KIND_WOT_THING,
        KIND_WOT_DIRECTORY,
        KIND_MODBUS_DEVICE,
        KIND_TRACKER_GATEWAY,
        KIND_ASSET_REGISTER,
    }
    for key, label in labels.items():
        assert len(label) <= MAX_MENU_LABEL, f"{key}: {label!r}"
    # the error that points to the directory option names it as the menu shows it
    assert f'"{labels[KIND_WOT_DIRECTORY]}"' in TRANSLATIONS["config"]["error"]["is_directory"]


def test_example_addresses_are_not_links() -> None:
    """An example address in a form is text to copy, not a link the frontend makes of it.

    Descriptions are Markdown: a URL outside a code span becomes a link to a made-up address.
    """

    def texts(node: Any, path: str) -> list[tuple[str, str]]:
        if isinstance(node, str):
            return [(path, node)]
        return [t for key, value in node.items() for t in texts(value, f"{path}.{key}")]

    found = texts(TRANSLATIONS["config"], "config")
    for path, text in found:
        outside_code = re.sub(r"`[^`]*`", "", text)
        assert not re.search(r"https?://[\w\[]", outside_code), f"{path}: {text!r}"
    assert any("`http://192.168.1.20/" in text for _, text in found)  # the example is still there


async def test_thing_errors_then_recovers(
    hass: HomeAssistant, wot_sim: WotSimulator, http_server: StaticServer
) -> None:
    flow_id = await start(hass, KIND_WOT_THING)
    http_server.add("/page", "<html><body>Router login</body></html>", content_type="text/html")
    http_server.add("/untitled", {"properties": {}})
    cases = [
        ("ftp://127.0.0.1/td", "invalid_url"),
        ("http://", "invalid_url"),
        ("http://[::1/td", "invalid_url"),
        ("127.0.0.1/td", "invalid_url"),
        # Credentials in the address would be stored, shown and logged with it.
        (f"http://admin:secret@127.0.0.1:{wot_sim.port}/things/lamp", "credentials_in_url"),
        (f"http://admin@127.0.0.1:{wot_sim.port}/things/lamp", "credentials_in_url"),
        (f"http://127.0.0.1:{free_port()}/td", "cannot_connect"),
        (http_server.url("/missing"), "cannot_connect"),  # HTTP 404
        (http_server.url("/page"), "invalid_td"),  # answers, but HTML
        (http_server.url("/untitled"), "invalid_td"),  # JSON, but no title
        (f"{thing_url(wot_sim, 'lamp')}/properties/on", "invalid_td"),  # a property value
        (f"{wot_sim.base_url}.well-known/wot", "is_directory"),
    ]
    for url, error in cases:
        result = await submit(hass, flow_id, {CONF_URL: url})
        assert_error(result, KIND_WOT_THING, error)
        assert suggested(result, CONF_URL) == url  # what the user typed stays in the form
    result = await submit(hass, flow_id, {CONF_URL: thing_url(wot_sim, "lamp")})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Simulated Lamp"
    assert result["result"].unique_id == LAMP_ID


async def test_a_rejected_thing_description_names_what_is_wrong(
    hass: HomeAssistant,
    wot_sim: WotSimulator,
    http_server: StaticServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The form and the debug log say which member is wrong, not only that something is.

    Home Assistant's own root page, a JSON dump of property values and a TD without a title
    were all answered with the same generic text (issue 10).
    """
    caplog.set_level(logging.DEBUG, logger="custom_components.thingbridge")
    http_server.add("/", "<html><body>Home Assistant</body></html>", content_type="text/html")
    http_server.add("/dump", {"on": True, "brightness": 40})
    untitled = thing_td()
    del untitled["title"]
    http_server.add("/untitled", untitled)
    flow_id = await start(hass, KIND_WOT_THING)
    cases = [
        (http_server.url("/"), f"GET {http_server.url('/')}: body is not valid JSON ("),
        (http_server.url("/dump"), "$.title: missing or empty"),
        (http_server.url("/untitled?token=s3cret"), "$.title: missing or empty"),
    ]
    for url, reason in cases:
        caplog.clear()
        result = await submit(hass, flow_id, {CONF_URL: url})
        assert_error(result, KIND_WOT_THING, "invalid_td")
        assert list(result["description_placeholders"]) == ["error"]
        shown = result["description_placeholders"]["error"]
        assert shown.startswith(reason)
        assert repr(shown) in caplog.text
        assert "s3cret" not in caplog.text
    assert "{error}" in TRANSLATIONS["config"]["error"]["invalid_td"]
    # a device-chosen member name cannot make the message long
    long_name = thing_td()
    long_name["properties"] = {"x" * 1000: {"type": "number"}}
    http_server.add("/long", long_name)
    result = await submit(hass, flow_id, {CONF_URL: http_server.url("/long")})
    shown = result["description_placeholders"]["error"]
    assert shown.startswith("$.properties.xxx")
    assert len(shown) == MAX_REASON_CHARS
    assert shown.endswith("…")
    # the directory form names it too
    flow_id = await start(hass, KIND_WOT_DIRECTORY)
    result = await submit(hass, flow_id, {CONF_URL: http_server.url("/")})
    assert_error(result, KIND_WOT_DIRECTORY, "invalid_td")
    assert result["description_placeholders"]["error"].startswith(cases[0][1])


async def test_thing_without_id_is_known_by_its_url(
    hass: HomeAssistant, http_server: StaticServer
) -> None:
    url = http_server.add("/td", thing_td("No id"))
    flow_id = await start(hass, KIND_WOT_THING)
    result = await submit(hass, flow_id, {CONF_URL: url})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == url


async def test_thing_already_configured(
    hass: HomeAssistant, wot_sim: WotSimulator, setups: list[dict[str, Any]]
) -> None:
    url = thing_url(wot_sim, "sensor")
    entry = thing_entry(url, SENSOR_ID)
    entry.add_to_hass(hass)
    result = await submit(hass, await start(hass, KIND_WOT_THING), {CONF_URL: url})
    assert_abort(result, "already_configured")
    # The same Thing under another address (the simulator also serves TDs by id): the entry
    # follows it, and is reloaded with it.
    await hass.config_entries.async_setup(entry.entry_id)
    moved = f"{wot_sim.base_url}things/{SENSOR_ID}"
    result = await submit(hass, await start(hass, KIND_WOT_THING), {CONF_URL: moved})
    assert_abort(result, "already_configured")
    assert entry.data[CONF_URL] == moved
    await hass.async_block_till_done()
    assert [s[CONF_URL] for s in setups] == [url, moved]
    assert len(entries(hass)) == 1


async def test_thing_of_a_directory_entry_is_not_added_twice(
    hass: HomeAssistant, wot_sim: WotSimulator, device_registry: dr.DeviceRegistry
) -> None:
    directory = directory_entry(f"{wot_sim.base_url}.well-known/wot")
    directory.add_to_hass(hass)
    device_registry.async_get_or_create(
        config_entry_id=directory.entry_id, identifiers={(DOMAIN, LAMP_ID)}, name="Lamp"
    )
    flow_id = await start(hass, KIND_WOT_THING)
    result = await submit(hass, flow_id, {CONF_URL: thing_url(wot_sim, "lamp")})
    assert_abort(result, "already_configured")
    # Another Thing of the same simulator is still welcome.
    flow_id = await start(hass, KIND_WOT_THING)
    result = await submit(hass, flow_id, {CONF_URL: thing_url(wot_sim, "sensor")})
    assert result["type"] is FlowResultType.CREATE_ENTRY


# ------------------------------------------------------------------------------------------
# credentials


async def test_basic_auth_thing(hass: HomeAssistant, secured_sim: WotSimulator) -> None:
    url = thing_url(secured_sim, "lock")
    result = await submit(hass, await start(hass, KIND_WOT_THING), {CONF_URL: url})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "credentials"
    assert result["errors"] == {}
    assert result["description_placeholders"] == {"url": url}
    assert fields(result) == [CONF_USERNAME, CONF_PASSWORD]  # what a "basic" scheme needs
    flow_id = result["flow_id"]

    result = await submit(hass, flow_id, {})
    assert_error(result, "credentials", "credentials_needed")
    result = await submit(hass, flow_id, {CONF_USERNAME: DEFAULT_USERNAME, CONF_PASSWORD: "nope"})
    assert_error(result, "credentials", "invalid_auth")
    result = await submit(
        hass, flow_id, {CONF_USERNAME: DEFAULT_USERNAME, CONF_PASSWORD: DEFAULT_PASSWORD}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Simulated Door Lock"
    assert result["result"].unique_id == LOCK_ID
    assert result["data"] == {
        CONF_KIND: KIND_WOT_THING,
        CONF_URL: url,
        CONF_USERNAME: DEFAULT_USERNAME,
        CONF_PASSWORD: DEFAULT_PASSWORD,
    }


async def test_bearer_thing(hass: HomeAssistant, secured_sim: WotSimulator) -> None:
    url = thing_url(secured_sim, "plug")
    result = await submit(hass, await start(hass, KIND_WOT_THING), {CONF_URL: url})
    assert result["step_id"] == "credentials"
    assert fields(result) == [CONF_TOKEN]
    result = await submit(hass, result["flow_id"], {CONF_TOKEN: "plug-token"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_KIND: KIND_WOT_THING, CONF_URL: url, CONF_TOKEN: "plug-token"}


async def test_thing_whose_td_is_protected(
    hass: HomeAssistant, protected_sim: WotSimulator
) -> None:
    url = thing_url(protected_sim, "lock")
    result = await submit(hass, await start(hass, KIND_WOT_THING), {CONF_URL: url})
    assert result["step_id"] == "credentials"
    # No TD to read the schemes from: what a plain GET can send.
    assert fields(result) == [CONF_USERNAME, CONF_PASSWORD, CONF_TOKEN]
    flow_id = result["flow_id"]
    result = await submit(hass, flow_id, {CONF_TOKEN: "not-it"})
    assert_error(result, "credentials", "invalid_auth")
    result = await submit(
        hass,
        flow_id,
        {CONF_USERNAME: DEFAULT_USERNAME, CONF_PASSWORD: DEFAULT_PASSWORD, CONF_TOKEN: ""},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == LOCK_ID
    assert CONF_TOKEN not in result["data"]  # empty fields are not stored


async def test_credential_fields_follow_the_schemes(
    hass: HomeAssistant, http_server: StaticServer
) -> None:
    """apikey asks for an API key, oauth2 for a token; a Thing with nothing to read is taken."""
    td = thing_td(
        "Cloud Thing",
        id_="urn:test:cloud",
        security={
            "key_sc": {"scheme": "apikey", "in": "header", "name": "X-Key"},
            "oauth_sc": {"scheme": "oauth2", "flow": "code"},
        },
    )
    td["properties"] = {}
    td["actions"] = {"reset": {"forms": [{"href": "/reset"}]}}
    url = http_server.add("/td", td)
    result = await submit(hass, await start(hass, KIND_WOT_THING), {CONF_URL: url})
    assert result["step_id"] == "credentials"
    assert fields(result) == [CONF_TOKEN, CONF_API_KEY]
    result = await submit(hass, result["flow_id"], {CONF_API_KEY: "k-123"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_KIND: KIND_WOT_THING, CONF_URL: url, CONF_API_KEY: "k-123"}


# ------------------------------------------------------------------------------------------
# a directory by URL


async def test_directory_by_url(
    hass: HomeAssistant, wot_sim: WotSimulator, http_server: StaticServer
) -> None:
    flow_id = await start(hass, KIND_WOT_DIRECTORY)
    http_server.add("/empty", [])
    http_server.add("/page", "<html></html>", content_type="text/html")
    cases = [
        ("ftp://127.0.0.1/", "invalid_url"),
        (f"http://127.0.0.1:{free_port()}/", "cannot_connect"),
        (http_server.url("/empty"), "no_things"),
        (http_server.url("/page"), "invalid_td"),
    ]
    for url, error in cases:
        result = await submit(hass, flow_id, {CONF_URL: url})
        assert_error(result, KIND_WOT_DIRECTORY, error)
        assert suggested(result, CONF_URL) == url
    url = f"{wot_sim.base_url}.well-known/wot"
    result = await submit(hass, flow_id, {CONF_URL: url})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == DIRECTORY_TITLE
    assert result["data"] == {CONF_KIND: KIND_WOT_DIRECTORY, CONF_URL: url}
    assert result["result"].unique_id == url

    result = await submit(hass, await start(hass, KIND_WOT_DIRECTORY), {CONF_URL: url})
    assert_abort(result, "already_configured")


async def test_directory_without_title_is_named_after_its_host(
    hass: HomeAssistant, wot_sim: WotSimulator
) -> None:
    result = await submit(
        hass, await start(hass, KIND_WOT_DIRECTORY), {CONF_URL: f"{wot_sim.base_url}things"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "127.0.0.1"


async def test_directory_with_credentials(hass: HomeAssistant, secured_directory: str) -> None:
    flow_id = await start(hass, KIND_WOT_DIRECTORY)
    result = await submit(hass, flow_id, {CONF_URL: secured_directory})
    assert result["step_id"] == "credentials"
    assert fields(result) == [CONF_USERNAME, CONF_PASSWORD, CONF_TOKEN]
    flow_id = result["flow_id"]
    result = await submit(hass, flow_id, {})
    assert_error(result, "credentials", "credentials_needed")
    result = await submit(hass, flow_id, {CONF_TOKEN: "wrong"})
    assert_error(result, "credentials", "invalid_auth")
    result = await submit(hass, flow_id, {CONF_TOKEN: DIRECTORY_TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {
        CONF_KIND: KIND_WOT_DIRECTORY,
        CONF_URL: secured_directory,
        CONF_TOKEN: DIRECTORY_TOKEN,
    }
    assert result["result"].unique_id == secured_directory


# ------------------------------------------------------------------------------------------
# discovery


async def test_discovered_thing(hass: HomeAssistant, wot_sim: WotSimulator) -> None:
    result = await discover(
        hass, zeroconf(wot_sim.port, {"td": "/things/lamp", "type": "Thing"}, name="Lamp")
    )
    url = thing_url(wot_sim, "lamp")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "discovery_confirm"
    assert result["description_placeholders"] == {"name": "Simulated Lamp", "url": url}
    assert fields(result) == []
    (progress,) = hass.config_entries.flow.async_progress()
    assert progress["context"]["title_placeholders"] == {"name": "Simulated Lamp"}
    assert progress["context"]["confirm_only"] is True
    assert progress["context"]["unique_id"] == LAMP_ID
    result = await submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Simulated Lamp"
    assert result["data"] == {CONF_KIND: KIND_WOT_THING, CONF_URL: url}
    assert result["result"].unique_id == LAMP_ID


@pytest.mark.parametrize(
    ("type_", "txt"),
    [
        (WOT, {"td": "/.well-known/wot", "type": "Directory"}),
        ("_directory._sub._wot._tcp.local.", {"td": "/.well-known/wot"}),
        # Advertised as a Thing (no type): its TD says it is a directory.
        (WOT, {"td": "/.well-known/wot"}),
    ],
)
async def test_discovered_directory(
    hass: HomeAssistant, wot_sim: WotSimulator, type_: str, txt: dict[str, str]
) -> None:
    result = await discover(hass, zeroconf(wot_sim.port, txt, type_))
    url = f"{wot_sim.base_url}.well-known/wot"
    assert result["step_id"] == "discovery_confirm"
    assert result["description_placeholders"] == {"name": DIRECTORY_TITLE, "url": url}
    result = await submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == DIRECTORY_TITLE
    assert result["data"] == {CONF_KIND: KIND_WOT_DIRECTORY, CONF_URL: url}
    assert result["result"].unique_id == url


async def test_discovered_thing_that_is_a_catalog_of_things(
    hass: HomeAssistant, http_server: StaticServer
) -> None:
    """LinkSmart's thing directory advertises ``_wot._tcp`` with TXT td=/td and no type.

    ``/td`` is no TD but its catalog of TDs: the flow offers the directory instead.
    """
    lamp = {
        "id": "urn:test:catalog-lamp",
        "title": "Catalog lamp",
        "security": ["nosec_sc"],
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "properties": {"on": {"type": "boolean", "forms": [{"href": http_server.url("/on")}]}},
    }
    http_server.add(
        "/td", {"@type": "Catalog", "items": [lamp], "page": 1, "perPage": 100, "total": 1}
    )
    result = await discover(hass, zeroconf(http_server.port, {"td": "/td"}, name="Directory"))
    assert result["step_id"] == "discovery_confirm"
    result = await submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_KIND: KIND_WOT_DIRECTORY, CONF_URL: http_server.url("/td")}
    # What is neither a TD nor a listing keeps its own reason, whatever the exploring said.
    http_server.add("/broken", {"title": "No forms", "properties": {"p": {"type": "number"}}})
    http_server.add("/locked-listing", {"@type": "Catalog", "items": []})
    for path in ("/broken", "/locked-listing"):
        assert_abort(await discover(hass, zeroconf(http_server.port, {"td": path})), "invalid_td")


async def test_discovered_webthings_server_with_one_thing(
    hass: HomeAssistant, one_webthing_sim: WotSimulator
) -> None:
    result = await discover(
        hass, zeroconf(one_webthing_sim.port, {"path": "/webthings/"}, WEBTHING)
    )
    url = one_webthing_sim.url_of("webthing-switch")
    assert result["step_id"] == "discovery_confirm"
    assert result["description_placeholders"] == {"name": "Simulated WebThings Dimmer", "url": url}
    result = await submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_KIND: KIND_WOT_THING, CONF_URL: url}
    assert result["result"].unique_id == "urn:thingbridge:simulator:webthing-switch"


async def test_discovered_webthings_server_with_several_things(
    hass: HomeAssistant, two_webthings_sim: WotSimulator
) -> None:
    info = zeroconf(two_webthings_sim.port, {"path": "/webthings/"}, WEBTHING, name="Gateway")
    result = await discover(hass, info)
    url = f"{two_webthings_sim.base_url}webthings/"
    assert result["step_id"] == "discovery_confirm"
    # A WebThings listing has no title of its own: the advertised instance name is used.
    assert result["description_placeholders"] == {"name": "Gateway", "url": url}
    result = await submit(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Gateway"
    assert result["data"] == {CONF_KIND: KIND_WOT_DIRECTORY, CONF_URL: url}


async def test_discovered_secured_thing_asks_for_credentials(
    hass: HomeAssistant, secured_sim: WotSimulator
) -> None:
    result = await discover(hass, zeroconf(secured_sim.port, {"td": "/things/plug"}))
    url = thing_url(secured_sim, "plug")
    assert result["step_id"] == "credentials"
    assert fields(result) == [CONF_TOKEN]
    (progress,) = hass.config_entries.flow.async_progress()
    assert progress["context"]["unique_id"] == PLUG_ID
    assert progress["context"]["title_placeholders"] == {"name": "Simulated Smart Plug"}
    result = await submit(hass, result["flow_id"], {CONF_TOKEN: "guess"})
    assert_error(result, "credentials", "invalid_auth")
    result = await submit(hass, result["flow_id"], {CONF_TOKEN: "plug-token"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_KIND: KIND_WOT_THING, CONF_URL: url, CONF_TOKEN: "plug-token"}


async def test_discovered_thing_whose_td_is_protected(
    hass: HomeAssistant, protected_sim: WotSimulator
) -> None:
    url = thing_url(protected_sim, "lock")
    info = zeroconf(protected_sim.port, {"td": "/things/lock"}, name="Front door")
    result = await discover(hass, info)
    assert result["step_id"] == "credentials"
    (progress,) = hass.config_entries.flow.async_progress()
    assert progress["context"]["unique_id"] == url  # the id is behind the credentials
    assert progress["context"]["title_placeholders"] == {"name": "Front door"}
    result = await submit(
        hass, result["flow_id"], {CONF_USERNAME: DEFAULT_USERNAME, CONF_PASSWORD: DEFAULT_PASSWORD}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == LOCK_ID
    # Seen again at the same address: already there, although its id cannot be read.
    assert_abort(await discover(hass, info), "already_configured")
    assert hass.config_entries.flow.async_progress() == []


async def test_discovered_secured_directory(hass: HomeAssistant, secured_directory: str) -> None:
    port = URL(secured_directory).port
    assert port is not None
    result = await discover(
        hass, zeroconf(port, {"td": "/things", "type": "Directory"}, name="Hub")
    )
    assert result["step_id"] == "credentials"
    assert fields(result) == [CONF_USERNAME, CONF_PASSWORD, CONF_TOKEN]
    result = await submit(hass, result["flow_id"], {CONF_TOKEN: DIRECTORY_TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "127.0.0.1"
    assert result["data"][CONF_TOKEN] == DIRECTORY_TOKEN


async def test_discovery_updates_a_moved_thing(
    hass: HomeAssistant, wot_sim: WotSimulator, setups: list[dict[str, Any]]
) -> None:
    """A known Thing seen at a new address: the entry follows it; no new flow."""
    old = f"http://127.0.0.1:{free_port()}/things/sensor"
    entry = thing_entry(old, SENSOR_ID)
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    result = await discover(hass, zeroconf(wot_sim.port, {"td": "/things/sensor"}))
    assert_abort(result, "already_configured")
    new = thing_url(wot_sim, "sensor")
    assert dict(entry.data) == {CONF_KIND: KIND_WOT_THING, CONF_URL: new}
    await hass.async_block_till_done()
    assert [s[CONF_URL] for s in setups] == [old, new]  # reloaded at the new address
    assert hass.config_entries.flow.async_progress() == []


async def test_discovery_never_moves_an_entry_holding_credentials(
    hass: HomeAssistant, wot_sim: WotSimulator, setups: list[dict[str, Any]]
) -> None:
    """A copy of a TD advertised elsewhere must not lure stored credentials to another host."""
    old = f"http://127.0.0.1:{free_port()}/things/sensor"
    entry = thing_entry(old, SENSOR_ID, username="kept")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    result = await discover(hass, zeroconf(wot_sim.port, {"td": "/things/sensor"}))
    assert_abort(result, "already_configured")
    assert dict(entry.data) == {CONF_KIND: KIND_WOT_THING, CONF_URL: old, CONF_USERNAME: "kept"}
    await hass.async_block_till_done()
    assert [s[CONF_URL] for s in setups] == [old]  # not reloaded


async def test_discovery_aborts(
    hass: HomeAssistant,
    wot_sim: WotSimulator,
    http_server: StaticServer,
    device_registry: dr.DeviceRegistry,
) -> None:
    closed = free_port()
    http_server.add("/empty", [])
    http_server.add("/page", "<html></html>", content_type="text/html")
    cases: list[tuple[ZeroconfServiceInfo, str]] = [
        (zeroconf(wot_sim.port, {"td": "/things/lamp", "scheme": "coap"}), "unsupported_protocol"),
        (zeroconf(wot_sim.port, {"scheme": "coap+tcp"}), "unsupported_protocol"),
        (zeroconf(wot_sim.port, {"td": "http://u:pw@127.0.0.1/td"}), "invalid_url"),
        (zeroconf(wot_sim.port, {"td": "//u:pw@127.0.0.1/td"}), "invalid_url"),
        (zeroconf(70000, {}), "invalid_url"),
        (zeroconf(closed, {}), "cannot_connect"),
        (zeroconf(wot_sim.port, {"td": "/things/lamp/properties/on"}), "invalid_td"),
        (zeroconf(closed, {"type": "Directory"}), "cannot_connect"),
        (zeroconf(http_server.port, {"td": "/page", "type": "Directory"}), "invalid_td"),
        (zeroconf(http_server.port, {"path": "/empty"}, WEBTHING), "no_things"),
    ]
    for info, reason in cases:
        assert_abort(await discover(hass, info), reason)

    directory = directory_entry(f"{wot_sim.base_url}.well-known/wot")
    directory.add_to_hass(hass)
    info = zeroconf(wot_sim.port, {"td": "/.well-known/wot", "type": "Directory"})
    assert_abort(await discover(hass, info), "already_configured")
    # The lamp is a device of that directory's entry: not offered on its own.
    device_registry.async_get_or_create(
        config_entry_id=directory.entry_id, identifiers={(DOMAIN, LAMP_ID)}, name="Lamp"
    )
    assert_abort(
        await discover(hass, zeroconf(wot_sim.port, {"td": "/things/lamp"})), "already_configured"
    )
    assert hass.config_entries.flow.async_progress() == []


# ------------------------------------------------------------------------------------------
# reauth


async def test_reauth_thing(
    hass: HomeAssistant, secured_sim: WotSimulator, setups: list[dict[str, Any]]
) -> None:
    url = thing_url(secured_sim, "lock")
    entry = thing_entry(
        url, LOCK_ID, "Simulated Door Lock", username=DEFAULT_USERNAME, password="old", token="x"
    )
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    result = check(await entry.start_reauth_flow(hass))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"]["name"] == "Simulated Door Lock"
    assert fields(result) == [CONF_USERNAME, CONF_PASSWORD]
    flow_id = result["flow_id"]
    result = await submit(hass, flow_id, {CONF_USERNAME: DEFAULT_USERNAME, CONF_PASSWORD: "old"})
    assert_error(result, "reauth_confirm", "invalid_auth")
    result = await submit(hass, flow_id, {})
    assert_error(result, "reauth_confirm", "credentials_needed")
    result = await submit(
        hass, flow_id, {CONF_USERNAME: DEFAULT_USERNAME, CONF_PASSWORD: DEFAULT_PASSWORD}
    )
    assert_abort(result, "reauth_successful")
    # The new credentials replace all the old ones (the stale token is gone).
    assert dict(entry.data) == {
        CONF_KIND: KIND_WOT_THING,
        CONF_URL: url,
        CONF_USERNAME: DEFAULT_USERNAME,
        CONF_PASSWORD: DEFAULT_PASSWORD,
    }
    await hass.async_block_till_done()
    assert setups[-1][CONF_PASSWORD] == DEFAULT_PASSWORD
    assert len(setups) == 2


async def test_reauth_thing_whose_td_is_protected(
    hass: HomeAssistant, protected_sim: WotSimulator
) -> None:
    entry = thing_entry(thing_url(protected_sim, "lock"), LOCK_ID, token="old")
    entry.add_to_hass(hass)
    result = check(await entry.start_reauth_flow(hass))
    assert fields(result) == [CONF_USERNAME, CONF_PASSWORD, CONF_TOKEN]
    result = await submit(
        hass, result["flow_id"], {CONF_USERNAME: DEFAULT_USERNAME, CONF_PASSWORD: DEFAULT_PASSWORD}
    )
    assert_abort(result, "reauth_successful")
    assert CONF_TOKEN not in entry.data


async def test_reauth_finds_another_thing(hass: HomeAssistant, http_server: StaticServer) -> None:
    basic = {"basic_sc": {"scheme": "basic", "in": "header"}}
    url = http_server.add("/td", thing_td("Replacement", id_="urn:test:other", security=basic))
    http_server.add("/value", 1)
    entry = thing_entry(url, "urn:test:original", username="u", password="p")
    entry.add_to_hass(hass)
    result = check(await entry.start_reauth_flow(hass))
    result = await submit(hass, result["flow_id"], {CONF_USERNAME: "u", CONF_PASSWORD: "q"})
    assert_abort(result, "wrong_thing")
    assert entry.data[CONF_PASSWORD] == "p"


async def test_reauth_directory(hass: HomeAssistant, secured_directory: str) -> None:
    entry = directory_entry(secured_directory, token="expired")
    entry.add_to_hass(hass)
    result = check(await entry.start_reauth_flow(hass))
    assert fields(result) == [CONF_USERNAME, CONF_PASSWORD, CONF_TOKEN]
    flow_id = result["flow_id"]
    result = await submit(hass, flow_id, {CONF_TOKEN: "expired"})
    assert_error(result, "reauth_confirm", "invalid_auth")
    result = await submit(hass, flow_id, {CONF_TOKEN: DIRECTORY_TOKEN})
    assert_abort(result, "reauth_successful")
    assert entry.data[CONF_TOKEN] == DIRECTORY_TOKEN


# ------------------------------------------------------------------------------------------
# reconfigure


async def test_reconfigure_thing(
    hass: HomeAssistant,
    wot_sim: WotSimulator,
    sensor_entry: MockConfigEntry,
    setups: list[dict[str, Any]],
) -> None:
    sensor_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(sensor_entry.entry_id)
    old = sensor_entry.data[CONF_URL]
    result = check(await sensor_entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "reconfigure"
    assert suggested(result, CONF_URL) == old
    flow_id = result["flow_id"]
    cases = [
        ("gopher://127.0.0.1/", "invalid_url"),
        (f"http://127.0.0.1:{free_port()}/td", "cannot_connect"),
        (f"{thing_url(wot_sim, 'lamp')}/properties/on", "invalid_td"),
        (f"{wot_sim.base_url}.well-known/wot", "is_directory"),
    ]
    for url, error in cases:
        result = await submit(hass, flow_id, {CONF_URL: url})
        assert_error(result, "reconfigure", error)
        assert suggested(result, CONF_URL) == url
    new = f"{wot_sim.base_url}things/{SENSOR_ID}"
    result = await submit(hass, flow_id, {CONF_URL: new})
    assert_abort(result, "reconfigure_successful")
    assert sensor_entry.data[CONF_URL] == new
    assert sensor_entry.unique_id == SENSOR_ID
    await hass.async_block_till_done()
    assert [s[CONF_URL] for s in setups] == [old, new]

    # Another Thing's address is refused.
    result = check(await sensor_entry.start_reconfigure_flow(hass))
    result = await submit(hass, result["flow_id"], {CONF_URL: thing_url(wot_sim, "lamp")})
    assert_abort(result, "wrong_thing")
    assert sensor_entry.data[CONF_URL] == new


async def test_reconfigure_secured_thing_uses_the_stored_credentials(
    hass: HomeAssistant, secured_sim: WotSimulator
) -> None:
    creds = {CONF_USERNAME: DEFAULT_USERNAME, CONF_PASSWORD: DEFAULT_PASSWORD}
    entry = thing_entry(thing_url(secured_sim, "lock"), LOCK_ID, **creds)
    entry.add_to_hass(hass)
    new = f"{secured_sim.base_url}things/{LOCK_ID}"
    result = check(await entry.start_reconfigure_flow(hass))
    result = await submit(hass, result["flow_id"], {CONF_URL: new})
    assert_abort(result, "reconfigure_successful")
    assert dict(entry.data) == {CONF_KIND: KIND_WOT_THING, CONF_URL: new, **creds}

    # An entry without credentials cannot be moved onto a Thing that needs them.
    bare = thing_entry(thing_url(secured_sim, "plug"), PLUG_ID)
    bare.add_to_hass(hass)
    result = check(await bare.start_reconfigure_flow(hass))
    result = await submit(hass, result["flow_id"], {CONF_URL: f"{secured_sim.base_url}things/plug"})
    assert_error(result, "reconfigure", "credentials_needed")


async def test_reconfigure_thing_without_id(hass: HomeAssistant, http_server: StaticServer) -> None:
    old = http_server.add("/a", thing_td("No id"))
    new = http_server.add("/b", thing_td("No id"))
    taken = http_server.add("/c", thing_td("No id either"))
    entry = thing_entry(old, old)
    entry.add_to_hass(hass)
    thing_entry(taken, taken).add_to_hass(hass)
    # Known by its URL alone: the identity moves with it...
    result = check(await entry.start_reconfigure_flow(hass))
    result = await submit(hass, result["flow_id"], {CONF_URL: new})
    assert_abort(result, "reconfigure_successful")
    assert (entry.unique_id, entry.data[CONF_URL]) == (new, new)
    # ...but not onto an address another entry has.
    result = check(await entry.start_reconfigure_flow(hass))
    result = await submit(hass, result["flow_id"], {CONF_URL: taken})
    assert_abort(result, "already_configured")
    assert entry.unique_id == new
    # A TD that now has an id is not known to be the same Thing.
    other = http_server.add("/d", thing_td("Has id", id_="urn:test:d"))
    result = check(await entry.start_reconfigure_flow(hass))
    result = await submit(hass, result["flow_id"], {CONF_URL: other})
    assert_abort(result, "wrong_thing")


async def test_reconfigure_directory(
    hass: HomeAssistant, wot_sim: WotSimulator, http_server: StaticServer
) -> None:
    well_known = f"{wot_sim.base_url}.well-known/wot"
    entry = directory_entry(well_known)
    entry.add_to_hass(hass)
    other_url = f"{wot_sim.base_url}things"
    directory_entry(other_url).add_to_hass(hass)

    result = check(await entry.start_reconfigure_flow(hass))
    assert suggested(result, CONF_URL) == well_known
    flow_id = result["flow_id"]
    result = await submit(hass, flow_id, {CONF_URL: http_server.add("/empty", [])})
    assert_error(result, "reconfigure", "no_things")
    # The bare origin: the directory is found at its well-known path.
    result = await submit(hass, flow_id, {CONF_URL: wot_sim.base_url})
    assert_abort(result, "reconfigure_successful")
    assert (entry.unique_id, entry.data[CONF_URL]) == (wot_sim.base_url, wot_sim.base_url)

    # The same URL again is fine; another entry's URL is not.
    result = check(await entry.start_reconfigure_flow(hass))
    result = await submit(hass, result["flow_id"], {CONF_URL: wot_sim.base_url})
    assert_abort(result, "reconfigure_successful")
    result = check(await entry.start_reconfigure_flow(hass))
    result = await submit(hass, result["flow_id"], {CONF_URL: other_url})
    assert_abort(result, "already_configured")
    assert entry.unique_id == wot_sim.base_url


# ------------------------------------------------------------------------------------------
# options


async def test_options(
    hass: HomeAssistant, sensor_entry: MockConfigEntry, setups: list[dict[str, Any]]
) -> None:
    sensor_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(sensor_entry.entry_id)
    result = check_options(await hass.config_entries.options.async_init(sensor_entry.entry_id))
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    assert fields(result) == [CONF_ALLOW_OTHER_HOSTS]
    result = check_options(
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_ALLOW_OTHER_HOSTS: True}
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert sensor_entry.options == {CONF_ALLOW_OTHER_HOSTS: True}
    await hass.async_block_till_done()
    assert len(setups) == 2  # reloaded with the new option

    # The form shows the current value.
    result = check_options(await hass.config_entries.options.async_init(sensor_entry.entry_id))
    assert suggested(result, CONF_ALLOW_OTHER_HOSTS) is True


async def test_directory_options_set_how_many_things_it_sets_up(
    hass: HomeAssistant, setups: list[dict[str, Any]]
) -> None:
    """A directory entry's options hold its Things cap: 5,000 unless set, 1 to 10,000."""
    entry = directory_entry("http://127.0.0.1:9/things")
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    result = check_options(await hass.config_entries.options.async_init(entry.entry_id))
    assert result["type"] is FlowResultType.FORM
    assert fields(result) == [CONF_ALLOW_OTHER_HOSTS, CONF_MAX_THINGS]
    assert DIRECTORY_MAX_THINGS >= 5000
    schema = result["data_schema"]
    assert schema({CONF_ALLOW_OTHER_HOSTS: False})[CONF_MAX_THINGS] == DIRECTORY_MAX_THINGS
    # The bounds are the form's own: out of them is refused before the flow sees it.
    for bad in (0, DIRECTORY_MAX_THINGS_LIMIT + 1):
        with pytest.raises(probatio.Invalid, match=r"too (small|large)"):
            schema({CONF_ALLOW_OTHER_HOSTS: False, CONF_MAX_THINGS: bad})
    result = check_options(
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_ALLOW_OTHER_HOSTS: False, CONF_MAX_THINGS: 8000.0}
        )
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # Stored as a whole number (the number box gives a float).
    assert entry.options == {CONF_ALLOW_OTHER_HOSTS: False, CONF_MAX_THINGS: 8000}
    assert isinstance(entry.options[CONF_MAX_THINGS], int)
    await hass.async_block_till_done()
    assert len(setups) == 2  # reloaded with the new cap
    result = check_options(await hass.config_entries.options.async_init(entry.entry_id))
    assert suggested(result, CONF_MAX_THINGS) == 8000


async def test_thing_with_too_many_affordances_is_refused_by_name(
    hass: HomeAssistant, http_server: StaticServer
) -> None:
    """A TD over the affordance cap is refused saying how many it has and what the cap is."""
    td = thing_td("Huge")
    td["properties"] = {
        f"p{i}": {"type": "number", "forms": [{"href": f"/p{i}"}]} for i in range(MAX_AFFORDANCES)
    }
    td["actions"] = {"go": {"forms": [{"href": "/go"}]}}
    url = http_server.add("/td", td)
    result = await submit(hass, await start(hass, KIND_WOT_THING), {CONF_URL: url})
    assert_error(result, KIND_WOT_THING, "too_many_affordances")
    placeholders = result["description_placeholders"]
    assert placeholders == {"count": str(MAX_AFFORDANCES + 1), "limit": str(MAX_AFFORDANCES)}
    text = TRANSLATIONS["config"]["error"]["too_many_affordances"].format(**placeholders)
    assert f"describes {MAX_AFFORDANCES + 1} properties" in text
    assert f"at most {MAX_AFFORDANCES} per device" in text
    # Advertised over mDNS, it is not offered.
    result = await discover(hass, zeroconf(http_server.port, {"td": "/td"}))
    assert_abort(result, "too_many_affordances")
    assert result["description_placeholders"] == placeholders
