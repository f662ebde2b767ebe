"""Headless Chromium against a development instance: shared by tests/test_browser.py and
scripts/screenshots.

:class:`DevInstance` runs ``scripts/develop`` (the README's command) in a temporary copy of
``config/`` on free loopback ports and waits for its ready file. :class:`Browser` drives
Debian's ``chromium`` through ``chromedriver`` with Selenium, logs in through Home Assistant's
login page and finds elements through the frontend's shadow DOM with JavaScript.

No request leaves the machine: Chromium resolves every host but 127.0.0.1 to "not found"
(``--host-resolver-rules``), so map tiles and brand images from the internet fail quickly and
the same way everywhere. The console messages that this causes are the only ones tolerated,
listed in :data:`ALLOWED_CONSOLE` with their reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Any
import urllib.request

REPO = Path(__file__).resolve().parent.parent
PAGE_TIMEOUT = 20.0
"""Seconds a page may take to show what it should; longer counts as "still loading"."""
STARTUP_TIMEOUT = 420.0
"""Seconds ``scripts/develop`` may take to be ready (first run installs the frontend)."""
VIEWPORT = (1280, 800)

ALLOWED_CONSOLE: tuple[tuple[str, str], ...] = (
    (
        r"^https?://(?!127\.0\.0\.1[:/])\S+ - Failed to load resource: net::ERR_NAME_NOT_RESOLVED$",
        (
            "a resource on the internet (map tiles): this browser resolves no host but "
            "127.0.0.1, so nothing leaves the machine and no check depends on the network"
        ),
    ),
    (
        (
            r"^http://127\.0\.0\.1:\d+/api/brands/integration/(?!thingbridge/)[a-z0-9_]+/"
            r"[a-z_@0-9]+\.png\?\S* - Failed to load resource: the server responded with a "
            r"status of 404 \(Not Found\)$"
        ),
        (
            "another integration's brand image: Home Assistant's brands proxy fetches those "
            "from the internet and answers 404 without it (ThingBridge's own images are local "
            "and are not excused)"
        ),
    ),
    (
        (
            r"^http://127\.0\.0\.1:\d+/api/map_tiles/\S+ - Failed to load resource: the server "
            r"responded with a status of 502 \(Bad Gateway\)$"
        ),
        (
            "the map's background: Home Assistant's map tile proxy fetches it from OpenStreetMap "
            "and answers 502 without the internet; markers and zones still draw"
        ),
    ),
)
"""Console errors that are not the frontend's fault: (regular expression, reason)."""


def sort_console(entries: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Split console entries into errors and allowed errors (these with their reason).

    Errors are what Chrome logs as SEVERE: ``console.error``, uncaught exceptions, failed
    requests. Warnings and info are not errors.
    """
    errors: list[str] = []
    allowed: list[str] = []
    for entry in entries:
        if entry.get("level") != "SEVERE":
            continue
        message = str(entry.get("message", ""))
        reason = next(
            (why for pattern, why in ALLOWED_CONSOLE if re.search(pattern, message)), None
        )
        if reason is None:
            errors.append(message)
        else:
            allowed.append(f"{message} (allowed: {reason})")
    return errors, allowed


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None when Chromium, chromedriver and Selenium
    are all installed."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        import selenium  # noqa: F401, PLC0415
    except ImportError:
        missing.append("the selenium package (requirements_test.txt)")
    if not missing:
        return None
    return (
        f"{' and '.join(missing)} not found: scripts/setup installs Debian's chromium and "
        "chromium-driver as root on a Debian-family host; elsewhere install them yourself"
    )


# --- the development instance --------------------------------------------------------------


@dataclass
class DevInstance:
    """``scripts/develop`` in a temporary copy of ``config/``, on free ports."""

    workdir: Path
    info: dict[str, Any] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return str(self.info["url"])

    @property
    def sim_url(self) -> str:
        return str(self.info["sim_url"]).rstrip("/")

    @property
    def log_path(self) -> Path:
        return self.workdir / "config" / "home-assistant.log"

    def start(self) -> dict[str, Any]:
        """Start it and wait until its ready file appears; return the file's content."""
        config = self.workdir / "config"
        config.mkdir(parents=True)
        for name in ("configuration.yaml", "automations.yaml", "scripts.yaml", "scenes.yaml"):
            shutil.copy(REPO / "config" / name, config / name)
        ready = self.workdir / "ready.json"
        output = self.workdir / "develop.out"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
        cmd = [
            str(REPO / "scripts" / "develop"),
            "--config", str(config),
            "--port", str(free_port()),
            "--sim-port", str(free_port()),
            "--modbus-port", str(free_port()),
            "--ready-file", str(ready),
        ]  # fmt: skip
        with output.open("w") as out:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, text=True, env=env,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not ready.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"scripts/develop exited with {self.proc.returncode} before it was ready:\n"
                    f"{output.read_text()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"scripts/develop not ready after {STARTUP_TIMEOUT:.0f} s:\n"
                    f"{output.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        # The file is written whole by the script; retry briefly in case we read it mid-write.
        for _ in range(20):
            try:
                self.info = json.loads(ready.read_text())
                break
            except json.JSONDecodeError:
                time.sleep(0.25)
        else:
            raise RuntimeError(f"the ready file is not JSON: {ready.read_text()[:500]}")
        return self.info

    def stop(self) -> None:
        """SIGTERM the script (it stops Home Assistant and the simulator), then wait."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def sim_get(self, path: str) -> Any:
        """GET a JSON document from the simulator (e.g. ``things/lamp/properties/on``)."""
        with urllib.request.urlopen(f"{self.sim_url}/{path}", timeout=10) as resp:
            return json.loads(resp.read())


def dev_instance() -> DevInstance:
    """A :class:`DevInstance` in a new temporary directory (removed by the caller's cleanup)."""
    return DevInstance(Path(tempfile.mkdtemp(prefix="thingbridge-browser-")))


# --- the browser ---------------------------------------------------------------------------

# Helpers injected before each script: querySelectorAll and text that cross shadow roots.
DEEP_JS = r"""
const deepAll = (root, sel, out = []) => {
  root.querySelectorAll(sel).forEach((e) => out.push(e));
  root.querySelectorAll("*").forEach((e) => { if (e.shadowRoot) deepAll(e.shadowRoot, sel, out); });
  return out;
};
const visible = (e) => {
  const r = e.getBoundingClientRect();
  return r.width > 0 && r.height > 0;
};
const deepText = (node) => {
  const parts = [];
  const walk = (x) => {
    if (x.nodeType === 3) { parts.push(x.textContent); return; }
    if (x.nodeType !== 1 && x.nodeType !== 9 && x.nodeType !== 11) return;
    if (x.nodeType === 1 && (x.tagName === "STYLE" || x.tagName === "SCRIPT")) return;
    if (x.shadowRoot) walk(x.shadowRoot);
    for (const c of x.childNodes) walk(c);
  };
  walk(node);
  return parts.join(" ").replace(/\s+/g, " ").trim();
};
const hass = () => document.querySelector("home-assistant")?.hass;
"""

# What "still loading" looks like in Home Assistant's frontend: the start page before the
# websocket is up, the panel placeholder, and spinners in the visible page.
LOADING_JS = r"""
if (document.readyState !== "complete") return "document not complete";
if (deepAll(document, "ha-init-page").some(visible)) return "ha-init-page (Loading…)";
if (!hass() || !hass().connected) return "frontend not connected to Home Assistant";
const spinners = deepAll(document, "ha-spinner, ha-circular-progress, hass-loading-screen")
  .filter(visible);
if (spinners.length) return "spinner: " + spinners.map((s) => s.tagName.toLowerCase()).join(", ");
return null;
"""


class ConsoleError(AssertionError):
    """The browser console showed frontend errors."""


@dataclass
class Browser:
    """A headless Chromium session logged into one Home Assistant."""

    driver: Any
    base_url: str
    console: list[dict[str, Any]] = field(default_factory=list)
    allowed_seen: list[str] = field(default_factory=list)

    @classmethod
    def launch(cls, base_url: str) -> Browser:
        from selenium import webdriver  # noqa: PLC0415
        from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "chromium"
        for arg in (
            "--headless=new",
            "--no-sandbox",  # root in CI and containers
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--lang=en-US",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # chromedriver from Debian's package, named explicitly: Selenium Manager must not go
        # looking for (or downloading) a driver of its own.
        service = Service(executable_path=shutil.which("chromedriver") or "chromedriver")
        driver = webdriver.Chrome(service=service, options=options)
        driver.set_page_load_timeout(PAGE_TIMEOUT)
        driver.set_script_timeout(PAGE_TIMEOUT)
        # The viewport itself, whatever the window decorations take (screenshots at this size).
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": VIEWPORT[0], "height": VIEWPORT[1], "deviceScaleFactor": 1, "mobile": False},
        )
        return cls(driver, base_url.rstrip("/"))

    def quit(self) -> None:
        self.driver.quit()

    # -- scripts and waiting --

    def js(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body) with the deep-query helpers in scope."""
        return self.driver.execute_script(DEEP_JS + script, *args)

    def text(self) -> str:
        """All text on the page, shadow roots included."""
        return str(self.js("return deepText(document.body);"))

    def wait(self, what: str, check: Callable[[], Any], timeout: float = PAGE_TIMEOUT) -> Any:
        """Poll ``check`` until it returns something truthy; after ``timeout`` seconds fail
        naming ``what``, with what the page shows and a screenshot of it."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                shot = Path(tempfile.mkdtemp(prefix="thingbridge-browser-failure-")) / "page.png"
                self.screenshot(shot)
                raise AssertionError(
                    f"{what}: not within {timeout:.0f} s at {self.driver.current_url}; "
                    f"still loading: {self.loading() or 'no'}; screenshot: {shot}; "
                    f"page text: {self.text()[:800]!r}"
                )
            time.sleep(0.25)

    def loading(self) -> str | None:
        """What on the page is still loading, or None."""
        result = self.js(LOADING_JS)
        return None if result is None else str(result)

    def open(self, path: str, what: str, ready_js: str, *args: Any) -> None:
        """Navigate to ``path`` and wait until nothing loads and ``ready_js`` (a function
        body, given ``args``) returns something truthy."""
        self.driver.get(self.base_url + path)
        self.settle(what, ready_js, *args)

    def settle(self, what: str, ready_js: str, *args: Any) -> None:
        """Wait until nothing loads and ``ready_js`` returns something truthy."""
        self.wait(what, lambda: self.loading() is None and self.js(ready_js, *args))

    # -- console --

    def collect_console(self) -> list[str]:
        """Fetch new console entries; return the errors that are not allowed."""
        entries = self.driver.get_log("browser")
        self.console.extend(entries)
        errors, allowed = sort_console(entries)
        self.allowed_seen.extend(allowed)
        return errors

    def assert_no_console_errors(self, where: str) -> None:
        errors = self.collect_console()
        if errors:
            raise ConsoleError(f"frontend errors in the browser console on {where}: {errors}")

    # -- Home Assistant --

    def login(self, username: str, password: str) -> None:
        """Log in through Home Assistant's login page, as a person would."""
        self.driver.get(self.base_url + "/")
        field_js = 'return deepAll(document, "input[name=" + arguments[0] + "]").find(visible);'
        user = self.wait("the login page", lambda: self.js(field_js, "username"))
        user.send_keys(username)
        secret = self.js(field_js, "password")
        secret.send_keys(password + "\n")
        self.settle(
            "the overview after logging in",
            'return !location.pathname.startsWith("/auth") && hass()?.user;',
        )

    def entity_registry(self) -> dict[str, dict[str, Any]]:
        """The frontend's entity registry display entries (entity_id → entry)."""
        return dict(self.js("return hass().entities;"))

    def states(self) -> dict[str, dict[str, Any]]:
        return dict(self.js("return hass().states;"))

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        png = self.driver.get_screenshot_as_png()
        path.write_bytes(png)


# -- pages shared by the test and the screenshots ----------------------------------------------


def show_on_map(chrome: Browser, entity_id: str) -> None:
    """Open the map panel and wait until it is drawn with ``entity_id``'s marker at rest.

    The map's side panel (People / Devices / Zones), when the frontend draws it, shows only the
    chosen tab's markers: then its "Devices" tab, where trackers are, is chosen. "Drawn" is the
    map element's own flag (``_mapDrawn``, when it has one); "at rest" is the marker at the same
    place in two polls in a row, so no zoom or fit animation is under way.
    """
    chrome.open(
        "/map",
        f"the map drawn with a marker for {entity_id}",
        """
        const map = deepAll(document, "ha-map").find(visible);
        const marker = deepAll(document, "ha-entity-marker")
          .find((m) => m.getAttribute("entity-id") === arguments[0] && visible(m));
        const overview = deepAll(document, "hui-map-overview")[0];
        const tab = [...(overview?.shadowRoot.querySelectorAll(".tablist button") ?? [])]
          .find((b) => b.textContent.trim() === "Devices");
        if (!marker && tab) tab.click();
        if (!map || map._mapDrawn === false || !marker) return false;
        const r = marker.getBoundingClientRect();
        const place = `${r.x},${r.y}`;
        const still = window.__thingbridgeMarkerPlace === place;
        window.__thingbridgeMarkerPlace = place;
        return still;
        """,
        entity_id,
    )
