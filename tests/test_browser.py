"""The development instance as a person sees it: headless Chromium against ``scripts/develop``.

One instance (a temporary copy of config/ on free ports) and one logged-in browser serve every
check in this module. Each page must show what it should within 20 s (a page still loading
then fails), the browser console must show no frontend error (the few tolerated messages are
listed in tests/browser_support.py with their reason), and no integration card may read
"Failed to set up".

Needs Debian's ``chromium`` and ``chromium-driver`` (scripts/setup installs them as root on a
Debian-family host) and Selenium (requirements_test.txt). Without them the module skips, naming
what is missing, except under CI (``CI`` set), where it fails instead: CI must run it.
"""

from __future__ import annotations

from collections.abc import Iterator
import logging
import os
import shutil

import pytest

from .browser_support import (
    STARTUP_TIMEOUT,
    Browser,
    DevInstance,
    browser_missing,
    dev_instance,
    show_on_map,
    sort_console,
)

_LOGGER = logging.getLogger(__name__)

# The first check also waits for scripts/develop (which installs the frontend on a first run).
pytestmark = pytest.mark.timeout(STARTUP_TIMEOUT + 180)

LAMP = "light.simulated_lamp"
SIMULATED_THINGS = (
    "Simulated Lamp",
    "Simulated Temperature Sensor",
    "Simulated Thermostat",
    "Simulated Window Blinds",
    "Simulated Smart Plug",
    "Simulated Door Lock",
    "Simulated WebThings Dimmer",
)


def _require_browser() -> None:
    reason = browser_missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI must run the browser test, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def instance() -> Iterator[DevInstance]:
    """scripts/develop on free ports, stopped (and its directory removed) after the module."""
    _require_browser()
    import pytest_socket  # noqa: PLC0415

    # Selenium talks to chromedriver over loopback HTTP, for every check in the module.
    pytest_socket.enable_socket()
    dev = dev_instance()
    try:
        dev.start()
        yield dev
    finally:
        dev.stop()
        shutil.rmtree(dev.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(instance: DevInstance) -> Iterator[Browser]:
    """Chromium, logged in through Home Assistant's login page with the printed credentials."""
    chrome = Browser.launch(instance.url)
    try:
        chrome.login(instance.info["username"], instance.info["password"])
        yield chrome
    finally:
        chrome.quit()
        # Not silent: the tolerated console messages are logged, each with its reason.
        for message in dict.fromkeys(chrome.allowed_seen):
            _LOGGER.warning("console message allowed: %s", message)


@pytest.fixture(autouse=True)
def _console_clean(request: pytest.FixtureRequest, socket_enabled: None) -> Iterator[None]:
    """After each check: no frontend error in the browser console."""
    yield
    if "browser" in request.fixturenames:
        chrome: Browser = request.getfixturevalue("browser")
        chrome.assert_no_console_errors(request.node.name)


def _assert_no_failed_setup(chrome: Browser, where: str) -> None:
    text = chrome.text()
    assert "Failed to set up" not in text, f"a 'Failed to set up' card on {where}: {text[:1500]}"


def test_overview_shows_every_simulated_device(browser: Browser) -> None:
    """The login page took the printed credentials; the overview's device list (its "Devices"
    tile) shows every simulated Thing."""
    assert "/auth" not in browser.driver.current_url
    browser.open(
        "/home/other-devices",
        "the overview's device list with every simulated Thing",
        "const t = deepText(document.body); return arguments[0].every((n) => t.includes(n));",
        list(SIMULATED_THINGS),
    )


def test_integrations_page(browser: Browser) -> None:
    """ThingBridge's card is there, and no integration failed to set up."""
    browser.open(
        "/config/integrations/dashboard",
        "the integrations page with ThingBridge's card",
        'return deepAll(document, "ha-integration-card").some('
        '(c) => deepText(c).includes("ThingBridge"));',
    )
    _assert_no_failed_setup(browser, "the integrations page")


def test_thingbridge_integration_page(browser: Browser) -> None:
    """ThingBridge's own page lists every simulated Thing, the tracker gateway and its tracker."""
    browser.open(
        "/config/integrations/integration/thingbridge",
        "ThingBridge's integration page listing the simulated Things",
        "const t = deepText(document.body); return arguments[0].every((n) => t.includes(n));",
        [*SIMULATED_THINGS, "GPS trackers", "Simulated van"],
    )
    _assert_no_failed_setup(browser, "ThingBridge's integration page")


def test_lamp_device_page_switches_the_simulated_lamp(
    browser: Browser, instance: DevInstance
) -> None:
    """The lamp's device page shows its switch; flipping it there switches the simulator's lamp."""
    device_id = browser.entity_registry()[LAMP]["device_id"]
    toggle_js = (
        'return deepAll(document, "ha-entity-toggle")'
        ".find((t) => t.stateObj?.entity_id === arguments[0] && visible(t));"
    )
    switch_js = (
        'return deepAll(document, "ha-entity-toggle")'
        ".find((t) => t.stateObj?.entity_id === arguments[0] && visible(t))"
        '.shadowRoot.querySelector("ha-switch");'
    )
    browser.open(f"/config/devices/device/{device_id}", "the lamp's device page", toggle_js, LAMP)
    assert "Simulated Lamp" in browser.text()
    before = instance.sim_get("things/lamp/properties/on")
    assert isinstance(before, bool), before
    for want in (not before, before):
        browser.js(switch_js, LAMP).click()  # a real click at the switch's place on the page
        browser.wait(
            f"the simulator's lamp switched {'on' if want else 'off'} from the device page",
            lambda want=want: instance.sim_get("things/lamp/properties/on") is want,
            timeout=10,
        )
        browser.wait(
            "the page showing the lamp's new state",
            lambda want=want: (
                browser.js("return hass().states[arguments[0]].state;", LAMP)
                == ("on" if want else "off")
            ),
            timeout=10,
        )


def test_meter_device_page_shows_the_simulated_meters_readings(
    browser: Browser, instance: DevInstance
) -> None:
    """The Modbus meter's device page names its maker and model and shows its power in W."""
    meter = instance.info["modbus"]["entity_id"]
    device_id = browser.entity_registry()[meter]["device_id"]
    browser.open(
        f"/config/devices/device/{device_id}",
        "the simulated SDM630's device page with its readings",
        "const t = deepText(document.body);"
        'return ["SDM630", "by Eastron", "Total active power"].every((n) => t.includes(n));',
    )
    state = browser.js("return hass().states[arguments[0]];", meter)
    assert state["attributes"]["unit_of_measurement"] == "W", state
    assert float(state["state"]) > 0, state
    _assert_no_failed_setup(browser, "the meter's device page")


def test_map_shows_the_simulated_tracker(browser: Browser, instance: DevInstance) -> None:
    """The map panel shows the simulated tracker's marker at the position it reported."""
    tracker = instance.info["tracker"]["entity_id"]
    show_on_map(browser, tracker)
    state = browser.js("return hass().states[arguments[0]];", tracker)
    assert isinstance(state["attributes"].get("latitude"), float), state
    assert isinstance(state["attributes"].get("longitude"), float), state


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_missing_browser_skips_but_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: type[BaseException]
) -> None:
    """Without Chromium the module skips naming what is missing; under CI it fails instead."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="chromium and chromedriver not found: scripts/setup"):
        _require_browser()


def test_console_allowlist_is_narrow() -> None:
    """Only the listed offline artefacts are tolerated; ThingBridge's own images and every
    script error still fail the check."""
    port = "http://127.0.0.1:8123"
    errors, allowed = sort_console(
        [
            {"level": "SEVERE", "message": f"{port}/api/brands/integration/sun/icon.png?token=a"
             " - Failed to load resource: the server responded with a status of 404 (Not Found)"},
            {"level": "SEVERE", "message": f"{port}/api/map_tiles/tilejson.json - Failed to load"
             " resource: the server responded with a status of 502 (Bad Gateway)"},
            {"level": "SEVERE", "message": "https://tile.example.org/1/2/3.png - Failed to load"
             " resource: net::ERR_NAME_NOT_RESOLVED"},
            {"level": "SEVERE", "message": f"{port}/api/brands/integration/thingbridge/icon.png"
             "?token=a - Failed to load resource: the server responded with a status of 404"
             " (Not Found)"},
            {"level": "SEVERE", "message": f"{port}/api/config/config_entries/entry - Failed to"
             " load resource: the server responded with a status of 500 (Internal Server Error)"},
            {"level": "SEVERE", "message": f"{port}/ 0:0 Uncaught Object: Unknown error"},
            {"level": "SEVERE", "message": f"{port}/x 12:3 Uncaught TypeError: a is undefined"},
            {"level": "WARNING", "message": f"{port}/ 1:1 a deprecation warning"},
        ]
    )  # fmt: skip
    assert len(allowed) == 3
    assert [e.split(" - ")[0].split(" 0:0")[0] for e in errors] == [
        f"{port}/api/brands/integration/thingbridge/icon.png?token=a",
        f"{port}/api/config/config_entries/entry",
        f"{port}/",
        f"{port}/x 12:3 Uncaught TypeError: a is undefined",
    ]


def test_console_error_on_the_page_fails_the_check(browser: Browser) -> None:
    """An error the page itself logs reaches the check (the console is really read)."""
    browser.js('console.error("ThingBridge browser test: a deliberate console error");')
    found: list[str] = []
    browser.wait(
        "the deliberate error in the console",
        lambda: found.extend(browser.collect_console()) or found,
        timeout=10,
    )
    assert any("a deliberate console error" in message for message in found), found
