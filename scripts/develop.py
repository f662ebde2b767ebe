"""Run the development instance: simulator + Home Assistant, onboarded, with ThingBridge set up.

Called by scripts/develop after the environment is ready. Uses only the standard library and
aiohttp (from the venv) so it runs with the project's interpreter.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys


def build_parser() -> argparse.ArgumentParser:
    """The command line; standard library only, so ``--help`` needs no set-up environment."""
    parser = argparse.ArgumentParser(
        prog="scripts/develop",
        description="Start the simulator and a real Home Assistant with ThingBridge loaded, "
        "onboarded with a local development account, and print the URL and the credentials.",
    )
    parser.add_argument("--check", action="store_true", help="start, set up, verify, then stop")
    parser.add_argument(
        "--config", type=Path, default=Path(__file__).resolve().parent.parent / "config",
        help="Home Assistant config directory (default: config/)",
    )  # fmt: skip
    parser.add_argument(
        "--port", type=int, default=8123, help="Home Assistant's port on 127.0.0.1 (8123)"
    )
    parser.add_argument("--sim-port", type=int, default=8580, help="the simulator's port (8580)")
    parser.add_argument(
        "--modbus-port", type=int, metavar="PORT",
        help="the simulated Modbus TCP meter's port (default: the simulator's port + 1)",
    )  # fmt: skip
    parser.add_argument(
        "--ready-file", type=Path, metavar="PATH",
        help="once everything is up, write the URL, credentials, config dir, simulator URL, "
        "the simulated tracker (protocol, port, device_id, entity_id) and the simulated Modbus "
        "meter (port, entity_id of its total power) there as JSON",
    )  # fmt: skip
    return parser


if __name__ == "__main__":
    # Parsed before the imports below, which need the environment scripts/develop sets up.
    ARGS = build_parser().parse_args()

import asyncio  # noqa: E402
from asyncio.subprocess import Process  # noqa: E402
from collections.abc import AsyncIterator, Callable  # noqa: E402
import contextlib  # noqa: E402
import ctypes.util  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402

from simulator.things import DEFAULT_PASSWORD, DEFAULT_TOKEN, DEFAULT_USERNAME  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
URL = "http://127.0.0.1:8123"
CLIENT_ID = f"{URL}/"
PORT = 8123
SIM_PORT = 8580
MODBUS_PORT = 8581
CREDENTIALS = CONFIG / ".dev_credentials.json"


def configure(config: Path, port: int, sim_port: int, modbus_port: int | None = None) -> None:
    """Point the module at another config dir and ports (``--config``, ``--port``, ...)."""
    global CONFIG, URL, CLIENT_ID, PORT, SIM_PORT, MODBUS_PORT, CREDENTIALS  # noqa: PLW0603
    CONFIG = config.resolve()
    PORT = port
    URL = f"http://127.0.0.1:{port}"
    CLIENT_ID = f"{URL}/"
    SIM_PORT = sim_port
    MODBUS_PORT = modbus_port or sim_port + 1
    CREDENTIALS = CONFIG / ".dev_credentials.json"


def log_path() -> str:
    """Home Assistant's log file in the config dir, relative to the working dir when inside it."""
    path = CONFIG / "home-assistant.log"
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def write_http_storage() -> None:
    """Make Home Assistant serve on 127.0.0.1:PORT, the way Home Assistant 2026.10 stores it.

    Since 2026.10 the ``http:`` settings live in ``.storage/http`` (the YAML block is migrated
    once, then ignored with a repair). The store is written before start with Home Assistant's
    own schema and version; settings other than host and port that are already stored are kept.
    """
    from homeassistant.components.http import config as http_config  # noqa: PLC0415

    path = CONFIG / ".storage" / http_config.STORAGE_KEY
    stable: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        stored = json.loads(path.read_text())
        if stored["version"] == http_config.STORAGE_VERSION:
            stable = {
                k: v
                for k, v in stored["data"]["stable"].items()
                if k not in ("created_at", "error", "error_message")
            }
    stable.update(server_host=["127.0.0.1"], server_port=PORT)
    data = {
        "stable": {
            **http_config.HTTP_STORAGE_SCHEMA(stable),
            "created_at": datetime.now(UTC).isoformat(),
            "error": None,
            "error_message": None,
        },
        "pending": None,
        "yaml_migration_done": True,
    }
    path.write_text(
        json.dumps(
            {
                "version": http_config.STORAGE_VERSION,
                "minor_version": http_config.STORAGE_MINOR_VERSION,
                "key": http_config.STORAGE_KEY,
                "data": data,
            },
            indent=4,
        )
    )
    path.chmod(0o600)


def skip_default_onboarding_integrations(storage: Path) -> None:
    """Mark onboarding's "core_config" step done before the first start of a new config dir.

    Finishing that step through the API makes Home Assistant add its onboarding defaults
    (google_translate, met, radio_browser, shopping_list): their requirements are not
    installed here, the first three would fail to set up ("Failed to set up" cards, import
    errors in the log), and met and radio_browser would call services on the internet. The
    location, units and time zone that step would ask for are in configuration.yaml.
    """
    from homeassistant.components import onboarding  # noqa: PLC0415
    from homeassistant.components.onboarding.const import STEP_CORE_CONFIG  # noqa: PLC0415

    path = storage / onboarding.STORAGE_KEY
    if not path.exists():
        path.write_text(
            json.dumps(
                {
                    "version": onboarding.STORAGE_VERSION,
                    "minor_version": 1,
                    "key": onboarding.STORAGE_KEY,
                    "data": {"done": [STEP_CORE_CONFIG]},
                },
                indent=4,
            )
        )
        path.chmod(0o600)


def prepare_config() -> dict[str, str]:
    """Link the integration into the config dir, keep mDNS on loopback, make credentials."""
    link = CONFIG / "custom_components"
    if not link.exists():
        link.symlink_to(ROOT / "custom_components", target_is_directory=True)
    storage = CONFIG / ".storage"
    storage.mkdir(exist_ok=True)
    network = storage / "core.network"
    if not network.exists():
        # Home Assistant's network integration decides where zeroconf multicasts; "lo" only.
        network.write_text(
            json.dumps(
                {"version": 1, "key": "core.network", "data": {"configured_adapters": ["lo"]}}
            )
        )
    write_http_storage()
    skip_default_onboarding_integrations(storage)
    if not CREDENTIALS.exists():
        creds = {"username": "dev", "password": secrets.token_urlsafe(12)}
        CREDENTIALS.write_text(json.dumps(creds))
        CREDENTIALS.chmod(0o600)
    return dict(json.loads(CREDENTIALS.read_text()))


async def _json(resp: aiohttp.ClientResponse) -> Any:
    text = await resp.text()
    if resp.status >= 400:
        raise RuntimeError(f"{resp.method} {resp.url}: HTTP {resp.status}: {text[:300]}")
    return json.loads(text) if text else None


async def wait_for_hass(
    session: aiohttp.ClientSession, proc: asyncio.subprocess.Process, limit: float
) -> None:
    """Wait until the HTTP API answers."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"Home Assistant exited with {proc.returncode}; see {log_path()}")
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with asyncio.timeout(5), session.get(f"{URL}/api/onboarding") as resp:
                if resp.status in (200, 401, 404):
                    return
        await asyncio.sleep(1)
    raise RuntimeError(f"Home Assistant did not answer within {limit:.0f} s")


async def token_from_code(session: aiohttp.ClientSession, code: str) -> str:
    """Exchange an authorization code for an access token."""
    async with session.post(
        f"{URL}/auth/token",
        data={"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID},
    ) as resp:
        return str((await _json(resp))["access_token"])


async def onboard_or_login(session: aiohttp.ClientSession, creds: dict[str, str]) -> str:
    """Finish onboarding through the onboarding API, or log in when it is done; return a token."""
    async with session.get(f"{URL}/api/onboarding") as resp:
        # Once onboarding is complete, Home Assistant no longer serves the onboarding API.
        done = resp.status == 404
        steps = {} if done else {step["step"]: step["done"] for step in await _json(resp)}
    if done:
        steps = dict.fromkeys(("user", "core_config", "analytics", "integration"), True)
    if not steps.get("user"):
        async with session.post(
            f"{URL}/api/onboarding/users",
            json={"client_id": CLIENT_ID, "name": "Developer", "language": "en", **creds},
        ) as resp:
            token = await token_from_code(session, (await _json(resp))["auth_code"])
    else:
        async with session.post(
            f"{URL}/auth/login_flow",
            json={
                "client_id": CLIENT_ID,
                "handler": ["homeassistant", None],
                "redirect_uri": CLIENT_ID,
            },
        ) as resp:
            flow = await _json(resp)
        async with session.post(
            f"{URL}/auth/login_flow/{flow['flow_id']}", json={"client_id": CLIENT_ID, **creds}
        ) as resp:
            token = await token_from_code(session, (await _json(resp))["result"])
    headers = {"Authorization": f"Bearer {token}"}
    for step, body in (
        ("core_config", {}),
        ("analytics", {}),
        ("integration", {"client_id": CLIENT_ID, "redirect_uri": f"{URL}/?auth_callback=1"}),
    ):
        if not steps.get(step):
            async with session.post(
                f"{URL}/api/onboarding/{step}", json=body, headers=headers
            ) as resp:
                await _json(resp)
    return token


async def add_simulator_things(session: aiohttp.ClientSession, token: str) -> list[str]:
    """Add each simulated Thing through ThingBridge's config flow (skips ones already added).

    The secured Things get their documented default credentials through the flow's
    credentials step, as a user would type them.
    """
    headers = {"Authorization": f"Bearer {token}"}
    things = (
        ("lamp", "things/lamp", {}),
        ("sensor", "things/sensor", {}),
        ("thermostat", "things/thermostat", {}),
        ("blinds", "things/blinds", {}),
        ("plug", "things/plug", {"token": DEFAULT_TOKEN}),
        ("lock", "things/lock", {"username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD}),
        ("webthing-switch", "webthings/webthing-switch", {}),
    )
    added = []
    for slug, path_of_td, credentials in things:
        async with session.post(
            f"{URL}/api/config/config_entries/flow",
            json={"handler": "thingbridge"},
            headers=headers,
        ) as resp:
            flow = await _json(resp)
        path = f"{URL}/api/config/config_entries/flow/{flow['flow_id']}"
        async with session.post(path, json={"next_step_id": "wot_thing"}, headers=headers) as resp:
            await _json(resp)
        async with session.post(
            path, json={"url": f"http://127.0.0.1:{SIM_PORT}/{path_of_td}"}, headers=headers
        ) as resp:
            result = await _json(resp)
        if result.get("step_id") == "credentials":
            async with session.post(path, json=credentials, headers=headers) as resp:
                result = await _json(resp)
        added.append(f"{slug}: {result.get('type')} {result.get('reason') or result.get('title')}")
        if result.get("type") != "create_entry" and result.get("reason") != "already_configured":
            raise RuntimeError(f"the simulator's {slug} could not be added: {result}")
    return added


MODBUS_PROFILE = "eastron-sdm630"


async def start_flow(session: aiohttp.ClientSession, headers: dict[str, str]) -> str:
    """Start ThingBridge's config flow (as "Add integration" does); the URL of its steps."""
    async with session.post(
        f"{URL}/api/config/config_entries/flow", json={"handler": "thingbridge"}, headers=headers
    ) as resp:
        flow = await _json(resp)
    return f"{URL}/api/config/config_entries/flow/{flow['flow_id']}"


async def add_modbus_meter(session: aiohttp.ClientSession, token: str) -> str:
    """Add the simulated SDM630 through the Modbus steps of the config flow, as a user would.

    Modbus TCP on 127.0.0.1, unit 1, the shipped Eastron SDM630 profile; the flow reads the
    meter once before the entry is created. A meter added before (same port) is kept.
    """
    headers = {"Authorization": f"Bearer {token}"}
    path = await start_flow(session, headers)
    answers: tuple[dict[str, Any], ...] = (
        {"next_step_id": "modbus_device"},
        {"connection": "tcp"},
        {"host": "127.0.0.1", "port": MODBUS_PORT, "unit_id": 1},
        {"profile": MODBUS_PROFILE},
    )
    result: dict[str, Any] = {}
    for answer in answers:
        async with session.post(path, json=answer, headers=headers) as resp:
            result = await _json(resp)
        if result.get("type") != "form":
            break
    if result.get("type") == "create_entry":
        return f"{result['title']} added"
    if result.get("reason") == "already_configured":
        return "already added"
    raise RuntimeError(f"the simulated Modbus meter could not be added: {result}")


async def modbus_entity(ws: WebSocket, limit: float) -> str:
    """The entity of the simulated meter's total active power (once it is registered)."""
    prefix = f"modbus:127.0.0.1:{MODBUS_PORT}:1_"
    deadline = time.monotonic() + limit
    while True:
        for entity in await ws.call("config/entity_registry/list"):
            unique_id = entity.get("unique_id") or ""
            if (
                entity.get("platform") == "thingbridge"
                and unique_id.startswith(prefix)
                and unique_id.endswith("active_power_total")
            ):
                return str(entity["entity_id"])
        if time.monotonic() > deadline:
            raise RuntimeError(f"the simulated Modbus meter has no entities within {limit:.0f} s")
        await asyncio.sleep(1)


class WebSocket:
    """Home Assistant's websocket API, as the frontend uses it (``/api/websocket``)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Wrap an open, authenticated connection."""
        self._ws = ws
        self._id = 0

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, session: aiohttp.ClientSession, token: str) -> AsyncIterator[WebSocket]:
        """Connect and authenticate with ``token``."""
        async with session.ws_connect(f"{URL}/api/websocket") as ws:
            hello = await ws.receive_json(timeout=30)
            if hello.get("type") != "auth_required":
                raise RuntimeError(f"websocket: expected auth_required, got {hello}")
            await ws.send_json({"type": "auth", "access_token": token})
            answer = await ws.receive_json(timeout=30)
            if answer.get("type") != "auth_ok":
                raise RuntimeError(f"websocket: authentication failed: {answer}")
            yield cls(ws)

    async def call(self, command: str, **data: Any) -> Any:
        """Send one command and return its result; raise naming the command if it failed."""
        self._id += 1
        await self._ws.send_json({"id": self._id, "type": command, **data})
        while True:
            msg = await self._ws.receive_json(timeout=60)
            if msg.get("id") == self._id and msg.get("type") == "result":
                break
        if not msg.get("success"):
            raise RuntimeError(f"websocket {command} failed: {msg.get('error')}")
        return msg.get("result")


# Home Assistant's onboarding defaults that an older development config may still have (before
# scripts/develop skipped them): they cannot set up here, so they are removed.
ONBOARDING_DEFAULTS = ("google_translate", "met", "radio_browser")


async def remove_failed_onboarding_defaults(
    session: aiohttp.ClientSession, token: str
) -> list[str]:
    """Remove the onboarding default entries that failed to set up; return their titles."""
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(f"{URL}/api/config/config_entries/entry", headers=headers) as resp:
        entries = await _json(resp)
    removed = []
    for entry in entries:
        if entry["domain"] in ONBOARDING_DEFAULTS and entry["state"] != "loaded":
            async with session.delete(
                f"{URL}/api/config/config_entries/entry/{entry['entry_id']}", headers=headers
            ) as resp:
                await _json(resp)
            removed.append(str(entry["title"]))
    return removed


def free_loopback_port() -> int:
    """A port free on 127.0.0.1 for both TCP and UDP (Teltonika and H02 listen on both)."""
    for _ in range(100):
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port is free for both TCP and UDP on 127.0.0.1")


TRACKER_PROTOCOL = "teltonika"
TRACKER_DEVICE_ID = "356307042441013"
TRACKER_NAME = "Simulated van"
# The lap: around the instance's home (configuration.yaml), one fix every few seconds.
HOME = (52.52, 13.405)
LAP_RADIUS_M = 400
LAP_POINTS = 20
FIX_SECONDS = 3


async def setup_tracker_gateway(session: aiohttp.ClientSession, token: str) -> dict[str, int]:
    """Set the GPS tracker gateway up on free loopback ports through the config flow.

    Every protocol is enabled on its own free port on 127.0.0.1. A gateway that already exists
    (a config dir used before) gets fresh free ports through its options, since the ones it
    had may be taken now. Returns the port of every protocol.
    """
    headers = {"Authorization": f"Bearer {token}"}
    path = await start_flow(session, headers)
    async with session.post(
        path, json={"next_step_id": "tracker_gateway"}, headers=headers
    ) as resp:
        form = await _json(resp)
    if form.get("type") == "abort" and form.get("reason") == "gateway_exists":
        async with session.get(
            f"{URL}/api/config/config_entries/entry?domain=thingbridge", headers=headers
        ) as resp:
            entries = await _json(resp)
        gateway = next(e for e in entries if "tracker" in (e["supported_subentry_types"] or {}))
        async with session.post(
            f"{URL}/api/config/config_entries/options/flow",
            json={"handler": gateway["entry_id"]},
            headers=headers,
        ) as resp:
            form = await _json(resp)
        path = f"{URL}/api/config/config_entries/options/flow/{form['flow_id']}"
    if form.get("type") != "form":
        raise RuntimeError(f"the tracker gateway's form did not open: {form}")
    fields = [field["name"] for field in form["data_schema"]]
    ports = {name.removeprefix("port_"): 0 for name in fields if name.startswith("port_")}
    for _ in range(5):
        ports = {protocol: free_loopback_port() for protocol in ports}
        if len(set(ports.values())) == len(ports):
            break
    answer = {
        "protocols": list(ports),
        **{f"port_{protocol}": port for protocol, port in ports.items()},
        "listen_host": "127.0.0.1",
        "lenient": False,
        "offline_minutes": 10,
    }
    async with session.post(path, json=answer, headers=headers) as resp:
        result = await _json(resp)
    if result.get("type") != "create_entry":
        raise RuntimeError(f"the tracker gateway could not be set up: {result}")
    return ports


async def drive_tracker(port: int, env: dict[str, str], procs: list[Process]) -> None:
    """Drive the simulated tracker around its lap to the gateway, lap after lap, until cancelled."""
    while True:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "simulator", "trackers", TRACKER_PROTOCOL,
            "--device-id", TRACKER_DEVICE_ID, "--port", str(port),
            "--center", f"{HOME[0]},{HOME[1]}", "--radius", str(LAP_RADIUS_M),
            "--points", str(LAP_POINTS), "--interval", str(FIX_SECONDS),
            "--pace", str(FIX_SECONDS), "--batch", "1", "--timeout", "600",
            cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        procs.append(proc)
        try:
            await proc.wait()
        finally:
            procs.remove(proc)
            if proc.returncode is None:
                proc.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), 10)
        await asyncio.sleep(FIX_SECONDS)


async def add_tracker(
    session: aiohttp.ClientSession, token: str, ws: WebSocket, limit: float
) -> str:
    """Accept the simulated tracker's discovery (as a user would on its card); return its entity.

    A tracker added before (a config dir used before) is not discovered again: then its
    device_tracker entity is returned straight away.
    """
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        entities = await ws.call("config/entity_registry/list")
        for entity in entities:
            if (
                entity["platform"] == "thingbridge"
                and entity["entity_id"].startswith("device_tracker.")
                and TRACKER_DEVICE_ID in (entity.get("unique_id") or "")
            ):
                return str(entity["entity_id"])
        for flow in await ws.call("config_entries/flow/progress"):
            if (
                flow["handler"] == "thingbridge"
                and flow.get("step_id") == "tracker_confirm"
                and TRACKER_DEVICE_ID in json.dumps(flow["context"])
            ):
                async with session.post(
                    f"{URL}/api/config/config_entries/flow/{flow['flow_id']}",
                    json={"name": TRACKER_NAME},
                    headers={"Authorization": f"Bearer {token}"},
                ) as resp:
                    result = await _json(resp)
                if result.get("reason") != "tracker_added":
                    raise RuntimeError(f"the simulated tracker could not be added: {result}")
        await asyncio.sleep(1)
    raise RuntimeError(f"the simulated tracker was not discovered within {limit:.0f} s")


# Integrations the web UI needs: the frontend's first calls (get_services among them) fail when
# one of them is missing, and the page stays on "Loading…".
FRONTEND_NEEDS = (
    "frontend", "api", "websocket_api", "config", "auth", "onboarding", "lovelace", "person",
    "zone", "device_tracker", "conversation", "assist_pipeline", "tts", "stt", "camera",
    "thingbridge",
)  # fmt: skip
# ERROR lines Home Assistant logs at startup that are documented as unavoidable here (README,
# "What the development instance leaves out"), each only while its cause holds.
UNAVOIDABLE_ERRORS: tuple[tuple[str, Callable[[], bool]], ...] = (
    # tts (a base platform) sets up ffmpeg, which logs this without an ffmpeg binary; the
    # binary (about 80 packages on Debian) is left out.
    (
        "[haffmpeg.core] FFmpeg fails [Errno 2] No such file or directory: 'ffmpeg'",
        lambda: shutil.which("ffmpeg") is None,
    ),
    # camera (a base platform) loads libturbojpeg; scripts/develop installs it as root on
    # Debian, elsewhere it may be missing.
    (
        "[homeassistant.components.camera.img_util] Error loading libturbojpeg",
        lambda: ctypes.util.find_library("turbojpeg") is None,
    ),
)
ERROR_LINE = re.compile(r"^\S+ \S+ ERROR ")


async def wait_until_running(ws: WebSocket, limit: float) -> None:
    """Wait until Home Assistant has started: until then base platforms may still set up."""
    deadline = time.monotonic() + limit
    while (state := (await ws.call("get_config"))["state"]) != "RUNNING":
        if time.monotonic() > deadline:
            raise RuntimeError(f"Home Assistant did not finish starting: {state}")
        await asyncio.sleep(1)


def log_errors() -> list[str]:
    """The ERROR lines of Home Assistant's log, but for the documented unavoidable ones."""
    errors = []
    for line in (CONFIG / "home-assistant.log").read_text(errors="replace").splitlines():
        if not ERROR_LINE.match(line):
            continue
        if any(text in line and missing() for text, missing in UNAVOIDABLE_ERRORS):
            continue
        errors.append(line)
    return errors


async def check_meter(ws: WebSocket, meter: str) -> None:
    """The simulated Modbus meter's total active power is a number of watts."""
    power: dict[str, Any] = {}
    for _ in range(30):
        power = next((s for s in await ws.call("get_states") if s["entity_id"] == meter), {})
        with contextlib.suppress(KeyError, ValueError):
            if power["attributes"].get("unit_of_measurement") == "W":
                print(f"check: {meter} reads {float(power['state']):.1f} W")
                return
        await asyncio.sleep(1)
    raise RuntimeError(f"the simulated Modbus meter reads no power: {power}")


async def verify(
    session: aiohttp.ClientSession, token: str, ws: WebSocket, tracker: str, meter: str
) -> None:
    """Check what the web UI needs and what a user would look at, as the frontend asks for it.

    - ThingBridge is offered under "Add integration" and its Things' entities have states;
    - the frontend's websocket calls answer: ``get_services``, ``get_config`` (every
      integration the UI needs is set up), no config entry failed to set up or unload, no
      "could not be set up" notification, no repair raised about this configuration;
    - the simulated tracker's device_tracker has a position;
    - the simulated Modbus meter's total active power is a number of watts;
    - Home Assistant's log has no ERROR line (but for the documented unavoidable ones).
    """
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(
        f"{URL}/api/config/config_entries/flow_handlers", headers=headers
    ) as resp:
        handlers = await _json(resp)
    if "thingbridge" not in handlers:
        raise RuntimeError(f"thingbridge is not offered under Add integration: {handlers}")
    ours: dict[str, str] = {}
    for _ in range(30):
        async with session.get(f"{URL}/api/states", headers=headers) as resp:
            states = {s["entity_id"]: s["state"] for s in await _json(resp)}
        ours = {k: v for k, v in states.items() if k.startswith("sensor.simulated_")}
        if ours and "unavailable" not in ours.values():
            break
        await asyncio.sleep(1)
    else:
        raise RuntimeError(f"the simulator Things have no states in Home Assistant: {ours}")
    print(f"check: ThingBridge offered under Add integration; states: {ours}")

    config = await ws.call("get_config")
    services = await ws.call("get_services")
    if "thingbridge" not in services or "homeassistant" not in services:
        raise RuntimeError(f"get_services lacks thingbridge or homeassistant: {sorted(services)}")
    missing = sorted(set(FRONTEND_NEEDS) - set(config["components"]))
    if missing:
        raise RuntimeError(f"integrations the web UI needs did not set up: {missing}")
    async with session.get(f"{URL}/api/config/config_entries/entry", headers=headers) as resp:
        entries = await _json(resp)
    failed = [
        f"{e['title']} ({e['domain']}): {e['state']} {e.get('reason') or ''}".strip()
        for e in entries
        if e["state"] in ("setup_error", "failed_unload", "migration_error")
    ]
    if failed:
        raise RuntimeError(f"config entries failed: {failed}")
    notifications = await ws.call("persistent_notification/get")
    if bad := [n for n in notifications if n.get("notification_id") == "invalid_config"]:
        raise RuntimeError(f"Home Assistant could not set something up: {bad[0].get('message')}")
    issues = (await ws.call("repairs/list_issues"))["issues"]
    if raised := [f"{i['domain']}.{i['issue_id']} ({i['severity']})" for i in issues]:
        raise RuntimeError(f"repairs raised: {raised}")
    print(
        f"check: get_services ({len(services)} domains) and get_config answered; "
        f"{len(config['components'])} components set up, none failed; no repairs"
    )

    found: dict[str, Any] = {}
    for _ in range(60):
        states_now = await ws.call("get_states")
        found = next((s for s in states_now if s["entity_id"] == tracker), {})
        if {"latitude", "longitude"} <= set(found.get("attributes", {})):
            break
        await asyncio.sleep(1)
    else:
        raise RuntimeError(f"{tracker} has no position: {found}")
    attributes = found["attributes"]
    print(
        f"check: {tracker} has a position: {attributes['latitude']:.5f}, "
        f"{attributes['longitude']:.5f} ({found['state']})"
    )
    await check_meter(ws, meter)
    if errors := log_errors():
        raise RuntimeError(f"{log_path()} has ERROR lines:\n" + "\n".join(errors))
    print(f"check: no ERROR lines in {log_path()}")


def write_ready_file(path: Path, info: dict[str, Any]) -> None:
    """Write ``info`` to ``path`` as JSON, atomically (a reader never sees half of it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.chmod(0o600)
    tmp.replace(path)


def remove_ready_file(path: Path) -> None:
    """Remove the ready file once the instance is stopped: it describes a running instance."""
    path.unlink(missing_ok=True)


def print_summary(
    started: float,
    *,
    creds: dict[str, str],
    added: list[str],
    ports: dict[str, int],
    tracker: str,
    modbus: str,
) -> None:
    """What is running where, for the developer."""
    gateway = ", ".join(f"{protocol} {port}" for protocol, port in ports.items())
    print(f"\nHome Assistant is up at {URL} ({time.monotonic() - started:.0f} s)")
    print(f"  username: {creds['username']}\n  password: {creds['password']}")
    print(f"  simulator Things: http://127.0.0.1:{SIM_PORT}/things/ ({'; '.join(added)})")
    print(f"  GPS tracker gateway on 127.0.0.1: {gateway}")
    print(f"  simulated Eastron SDM630 meter: modbus+tcp://127.0.0.1:{MODBUS_PORT}/1/ ({modbus})")
    print(
        f"  simulated {TRACKER_PROTOCOL} tracker {TRACKER_DEVICE_ID} ({tracker}) drives laps "
        f"around {HOME[0]}, {HOME[1]}"
    )


async def run(check: bool, ready_file: Path | None, procs: list[Process]) -> int:
    """Start everything and set it up; then verify and return (``check``) or serve.

    Serving lasts until Home Assistant exits (or the caller cancels). Every process started is
    put in ``procs`` for the caller to stop, Home Assistant first.
    """
    creds = prepare_config()
    pythonpath = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(pythonpath))}
    python = sys.executable
    sim = await asyncio.create_subprocess_exec(
        python, "-m", "simulator", "--wot-port", str(SIM_PORT),
        "--state-dir", str(CONFIG / ".simulator"), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    procs.append(sim)
    modbus_args = ("-m", "simulator", "modbus", "--port-base", str(MODBUS_PORT), "sdm630")
    procs.append(
        await asyncio.create_subprocess_exec(
            python, *modbus_args, cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL
        )
    )
    hass_bin = str(Path(python).parent / "hass")
    started = time.monotonic()
    hass = await asyncio.create_subprocess_exec(
        hass_bin, "-c", str(CONFIG), "--skip-pip", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    procs.insert(0, hass)
    tracker_procs: list[Process] = []
    driver: asyncio.Task[None] | None = None
    try:
        async with aiohttp.ClientSession() as session:
            await wait_for_hass(session, hass, 180)
            token = await onboard_or_login(session, creds)
            removed = await remove_failed_onboarding_defaults(session, token)
            if removed:
                print(f"removed onboarding defaults that cannot set up here: {', '.join(removed)}")
            added = await add_simulator_things(session, token)
            modbus = await add_modbus_meter(session, token)
            ports = await setup_tracker_gateway(session, token)
            driver = asyncio.create_task(drive_tracker(ports[TRACKER_PROTOCOL], env, tracker_procs))
            async with WebSocket.connect(session, token) as ws:
                tracker = await add_tracker(session, token, ws, 120)
                meter_entity = await modbus_entity(ws, 60)
                await wait_until_running(ws, 180)
                if check:
                    await verify(session, token, ws, tracker, meter_entity)
        print_summary(
            started, creds=creds, added=added, ports=ports, tracker=tracker, modbus=modbus
        )
        print(f"  log: {log_path()}   stop: Ctrl-C\n", flush=True)
        if ready_file is not None:
            write_ready_file(
                ready_file,
                {
                    "url": URL,
                    "username": creds["username"],
                    "password": creds["password"],
                    "config": str(CONFIG),
                    "sim_url": f"http://127.0.0.1:{SIM_PORT}/",
                    "tracker": {
                        "protocol": TRACKER_PROTOCOL,
                        "port": ports[TRACKER_PROTOCOL],
                        "device_id": TRACKER_DEVICE_ID,
                        "entity_id": tracker,
                    },
                    "modbus": {"port": MODBUS_PORT, "entity_id": meter_entity},
                },
            )
        if check:
            return 0
        await hass.wait()
        print(f"Home Assistant exited with {hass.returncode}; see {log_path()}", file=sys.stderr)
        return 1
    finally:
        if driver is not None:
            driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await driver


async def main(check: bool, ready_file: Path | None) -> int:
    """Run until set up and verified (``check``), or until SIGINT/SIGTERM; then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    procs: list[Process] = []
    runner = asyncio.create_task(run(check, ready_file, procs))
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([runner, stopper], return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            try:
                return runner.result()
            except RuntimeError as err:  # what went wrong, said without a traceback
                print(f"scripts/develop: {err}", file=sys.stderr, flush=True)
                return 1
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        print("stopped", flush=True)
        return 0
    finally:
        stopper.cancel()
        # Home Assistant first: the simulator's push streams end when it stops, and Home
        # Assistant would otherwise log its devices vanishing during its own shutdown.
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 60)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        if ready_file is not None:
            remove_ready_file(ready_file)


if __name__ == "__main__":
    configure(ARGS.config, ARGS.port, ARGS.sim_port, ARGS.modbus_port)
    sys.exit(asyncio.run(main(ARGS.check, ARGS.ready_file)))
