"""scripts/develop: a real Home Assistant process, onboarded, with ThingBridge and the simulator.

Runs the script as a user would (it installs the frontend into .venv the first time), in a
copy of config/ that listens on free ports so it never collides with a running dev instance.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import shutil
import socket
import subprocess

from .conftest import REPO


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_develop_check(tmp_path: Path, socket_enabled: None) -> None:
    config = tmp_path / "config"
    config.mkdir()
    for name in ("configuration.yaml", "automations.yaml", "scripts.yaml", "scenes.yaml"):
        shutil.copy(REPO / "config" / name, config / name)
    # No http: block to edit: --port alone must move Home Assistant (2026.10 keeps the HTTP
    # settings in .storage/http and would ignore a YAML block after migrating it once).
    assert "\nhttp:" not in (config / "configuration.yaml").read_text()
    port, sim_port = _free_port(), _free_port()

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
    result = subprocess.run(
        [str(REPO / "scripts" / "develop"), "--check", "--config", str(config),
         "--port", str(port), "--sim-port", str(sim_port)],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Home Assistant is up at http://127.0.0.1:{port}" in result.stdout
    assert "username: dev" in result.stdout
    assert f"log: {config / 'home-assistant.log'}" in result.stdout
    assert "lamp: create_entry Simulated Lamp" in result.stdout
    assert "check: ThingBridge offered under Add integration" in result.stdout
    assert "sensor.simulated_temperature_sensor_temperature" in result.stdout

    log = (config / "home-assistant.log").read_text()
    ours = [line for line in log.splitlines() if "ERROR" in line and "thingbridge" in line.lower()]
    assert ours == []
    http = json.loads((config / ".storage" / "http").read_text())
    assert http["data"]["stable"]["server_port"] == port
    assert http["data"]["yaml_migration_done"] is True
    # mDNS stayed on loopback: the network integration was told to use "lo" only.
    assert '"configured_adapters": ["lo"]' in (config / ".storage" / "core.network").read_text()


def test_develop_help_runs_no_setup(tmp_path: Path) -> None:
    """``--help`` prints the usage straight away: scripts/setup is not run (nor anything else)."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for name in ("develop", "develop.py"):
        shutil.copy2(REPO / "scripts" / name, scripts / name)
    marker = tmp_path / "setup-ran"
    setup = scripts / "setup"
    setup.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    setup.chmod(0o755)
    for flag in ("--help", "-h"):
        result = subprocess.run(
            [str(scripts / "develop"), "--check", flag],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("usage: scripts/develop")
        for option in ("--check", "--config", "--port", "--sim-port"):
            assert option in result.stdout
        assert not marker.exists()
