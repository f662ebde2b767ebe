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
    return parser


if __name__ == "__main__":
    # Parsed before the imports below, which need the environment scripts/develop sets up.
    ARGS = build_parser().parse_args()

import asyncio  # noqa: E402
import contextlib  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import signal  # noqa: E402
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
CREDENTIALS = CONFIG / ".dev_credentials.json"


def configure(config: Path, port: int, sim_port: int) -> None:
    """Point the module at another config dir and ports (``--config``, ``--port``, ``--sim-port``)."""
    global CONFIG, URL, CLIENT_ID, PORT, SIM_PORT, CREDENTIALS  # noqa: PLW0603
    CONFIG = config.resolve()
    PORT = port
    URL = f"http://127.0.0.1:{port}"
    CLIENT_ID = f"{URL}/"
    SIM_PORT = sim_port
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


async def verify(session: aiohttp.ClientSession, token: str) -> None:
    """Check that ThingBridge is offered under "Add integration" and its entities have states."""
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(
        f"{URL}/api/config/config_entries/flow_handlers", headers=headers
    ) as resp:
        handlers = await _json(resp)
    if "thingbridge" not in handlers:
        raise RuntimeError(f"thingbridge is not offered under Add integration: {handlers}")
    for _ in range(30):
        async with session.get(f"{URL}/api/states", headers=headers) as resp:
            states = {s["entity_id"]: s["state"] for s in await _json(resp)}
        ours = {k: v for k, v in states.items() if k.startswith("sensor.simulated_")}
        if ours and "unavailable" not in ours.values():
            print(f"check: ThingBridge offered under Add integration; states: {ours}")
            return
        await asyncio.sleep(1)
    raise RuntimeError("the simulator Things have no states in Home Assistant")


async def main(check: bool) -> int:
    """Start everything, set it up, then serve until interrupted (or stop, with --check)."""
    creds = prepare_config()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    python = sys.executable
    sim = await asyncio.create_subprocess_exec(
        python, "-m", "simulator", "--wot-port", str(SIM_PORT), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    hass_bin = str(Path(python).parent / "hass")
    started = time.monotonic()
    hass = await asyncio.create_subprocess_exec(
        hass_bin, "-c", str(CONFIG), "--skip-pip", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            await wait_for_hass(session, hass, 180)
            token = await onboard_or_login(session, creds)
            added = await add_simulator_things(session, token)
            if check:
                await verify(session, token)
        print(f"\nHome Assistant is up at {URL} ({time.monotonic() - started:.0f} s)")
        print(f"  username: {creds['username']}\n  password: {creds['password']}")
        print(f"  simulator Things: http://127.0.0.1:{SIM_PORT}/things/ ({'; '.join(added)})")
        print(f"  log: {log_path()}   stop: Ctrl-C\n", flush=True)
        if not check:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            waiter = asyncio.create_task(hass.wait())
            await asyncio.wait(
                [waiter, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
            )
    finally:
        # Home Assistant first: the simulator's push streams end when it stops, and Home
        # Assistant would otherwise log its devices vanishing during its own shutdown.
        for proc in (hass, sim):
            if proc.returncode is None:
                proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 60)
    return 0


if __name__ == "__main__":
    configure(ARGS.config, ARGS.port, ARGS.sim_port)
    sys.exit(asyncio.run(main(ARGS.check)))
