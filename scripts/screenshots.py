"""Take the README's screenshots from a development instance (run by scripts/screenshots).

Starts ``scripts/develop`` in a temporary copy of config/ on free ports, logs a headless Chromium
in as a person would, and writes into docs/images/:

- ``device-page.png``: a Thing's device page (the simulated smart plug);
- ``tracker-map.png``: the map with the simulated GPS tracker on its lap;
- ``tracker-gateway-flow.png``: the GPS tracker gateway's first configuration step;
- ``modbus-meter.png``: the simulated Eastron SDM630's device page (a Modbus meter).

Uses the browser test's tooling (tests/browser_support.py): the same waiting rules (a page
must settle within 20 s) and the same console check, so a screenshot is never of a page that
is still loading or broken. PNGs are reduced to a 256-colour palette, which keeps these flat
UI pictures sharp and small.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
import shutil
import sys

from PIL import Image

from tests.browser_support import (
    REPO,
    VIEWPORT,
    Browser,
    DevInstance,
    browser_missing,
    dev_instance,
    show_on_map,
)

OUT = REPO / "docs" / "images"
DEVICE = "switch.simulated_smart_plug"
DEVICE_NAME = "Simulated Smart Plug"


def save(png: bytes, path: Path) -> None:
    """Write ``png`` to ``path`` as an optimised 256-colour PNG."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    path.parent.mkdir(parents=True, exist_ok=True)
    small.save(path, format="PNG", optimize=True)
    print(f"wrote {path.relative_to(REPO)} ({image.width}x{image.height}, "
          f"{path.stat().st_size // 1024} KiB)")  # fmt: skip


def park_mouse(chrome: Browser) -> None:
    """Move the pointer to the page's top-left corner so no hover effect shows."""
    from selenium.webdriver.common.action_chains import ActionChains  # noqa: PLC0415

    body = chrome.driver.find_element("tag name", "body")
    ActionChains(chrome.driver).move_to_element_with_offset(
        body, -VIEWPORT[0] // 2 + 1, -VIEWPORT[1] // 2 + 1
    ).perform()


def device_page(chrome: Browser) -> None:
    """A Thing's device page: its controls and sensors, the ThingBridge link, its model."""
    device_id = chrome.entity_registry()[DEVICE]["device_id"]
    chrome.open(
        f"/config/devices/device/{device_id}",
        f"the device page of {DEVICE_NAME}",
        'return deepAll(document, "ha-entity-toggle").some('
        "(t) => t.stateObj?.entity_id === arguments[0] && visible(t))"
        " && deepText(document.body).includes(arguments[1]);",
        DEVICE,
        DEVICE_NAME,
    )
    park_mouse(chrome)
    save(chrome.driver.get_screenshot_as_png(), OUT / "device-page.png")


def meter_page(chrome: Browser, meter: str) -> None:
    """The simulated SDM630's device page: the meter's model, its sensors in their units."""
    device_id = chrome.entity_registry()[meter]["device_id"]
    chrome.open(
        f"/config/devices/device/{device_id}",
        "the device page of the simulated Eastron SDM630",
        "const text = deepText(document.body);"
        'return text.includes("SDM630") && text.includes(" W") && text.includes(" kWh");',
    )
    park_mouse(chrome)
    save(chrome.driver.get_screenshot_as_png(), OUT / "modbus-meter.png")


def tracker_map(chrome: Browser, tracker: str) -> None:
    """The map panel's Devices tab, with the simulated tracker's marker."""
    show_on_map(chrome, tracker)
    park_mouse(chrome)
    save(chrome.driver.get_screenshot_as_png(), OUT / "tracker-map.png")


def gateway_flow(chrome: Browser) -> None:
    """The gateway's first step, as "Add integration" → ThingBridge → GPS tracker gateway shows it.

    The development instance already has the gateway (for the map), and a second one is refused,
    so it is deleted first: this is the last picture, taken from a throw-away copy of config/.
    """
    chrome.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        'const hass = document.querySelector("home-assistant").hass;'
        'hass.callWS({type: "config_entries/get", domain: "thingbridge"}).then(async (entries) => {'
        "  for (const e of entries) if (e.supported_subentry_types?.tracker)"
        '    await hass.callApi("DELETE", "config/config_entries/entry/" + e.entry_id);'
        "  done();"
        "});"
    )
    # Tall enough for the whole form; the picture is the dialog alone.
    chrome.driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": VIEWPORT[0], "height": 1700, "deviceScaleFactor": 1, "mobile": False},
    )
    chrome.open(
        "/config/integrations/dashboard/add?domain=thingbridge",
        "the question whether to set ThingBridge up",
        'return deepAll(document, "ha-button").find((b) => visible(b) && deepText(b) === "OK");',
    )
    chrome.js(
        'return deepAll(document, "ha-button").find((b) => visible(b) && deepText(b) === "OK");'
    ).click()
    item_js = (
        'return deepAll(document, "ha-list-item")'
        '.find((i) => visible(i) && deepText(i).startsWith("GPS tracker gateway"));'
    )
    chrome.settle("ThingBridge's menu", item_js)
    chrome.js(item_js).click()
    chrome.settle(
        "the GPS tracker gateway's first step",
        'return deepAll(document, "ha-form").some((f) => visible(f)'
        ' && deepText(f).includes("Teltonika port") && deepText(f).includes("Listen address"));',
    )
    park_mouse(chrome)
    dialog = chrome.js('return deepAll(document, "dialog[open]").find(visible);')
    save(dialog.screenshot_as_png, OUT / "tracker-gateway-flow.png")
    # Close the dialog: that ends the flow, as a person closing it would.
    chrome.js(
        'deepAll(document, "ha-icon-button").find((b) => visible(b) && b.label === "Close")'
        ".click();"
    )


def main() -> int:
    """Start an instance, take every picture, stop it; non-zero if something failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args()
    reason = browser_missing()
    if reason is not None:
        print(f"screenshots: {reason}", file=sys.stderr)
        return 1
    dev: DevInstance = dev_instance()
    chrome: Browser | None = None
    try:
        print("starting the development instance (scripts/develop) ...", flush=True)
        info = dev.start()
        chrome = Browser.launch(dev.url)
        chrome.login(info["username"], info["password"])
        device_page(chrome)
        chrome.assert_no_console_errors("the device page")
        meter_page(chrome, info["modbus"]["entity_id"])
        chrome.assert_no_console_errors("the meter's device page")
        tracker_map(chrome, info["tracker"]["entity_id"])
        chrome.assert_no_console_errors("the map")
        gateway_flow(chrome)
        chrome.assert_no_console_errors("the gateway's flow")
    finally:
        if chrome is not None:
            chrome.quit()
        dev.stop()
        shutil.rmtree(dev.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
