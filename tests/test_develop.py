"""scripts/develop: a real Home Assistant process, onboarded, with ThingBridge and the simulator.

Runs the script as a user would (it installs the frontend and what the integrations Home
Assistant sets up need into .venv the first time), in a copy of config/ on free ports, so it
never collides with a running development instance.
"""

from __future__ import annotations

import ctypes.util
import json
import os
from pathlib import Path
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import pytest_socket

from .conftest import REPO

# The first run installs the development requirements (building two of them from source), so
# each test may take minutes on a fresh machine: beyond the suite's default timeout.
pytestmark = [pytest.mark.usefixtures("socket_enabled"), pytest.mark.timeout(900)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config_copy(path: Path) -> Path:
    config = path / "config"
    config.mkdir()
    for name in ("configuration.yaml", "automations.yaml", "scripts.yaml", "scenes.yaml"):
        shutil.copy(REPO / "config" / name, config / name)
    return config


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}


@pytest.fixture(scope="module")
def develop_check(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str, int, int]:
    """One ``scripts/develop --check`` run: config dir, Home Assistant's port, output, sim port,
    Modbus meter port."""
    # Module-scoped, so set up before the tests' socket_enabled: the free ports need a socket.
    # (Home Assistant's test plugin disables sockets again before each test.)
    pytest_socket.enable_socket()
    config = _config_copy(tmp_path_factory.mktemp("develop"))
    port, sim_port, modbus_port = _free_port(), _free_port(), _free_port()
    result = subprocess.run(
        [str(REPO / "scripts" / "develop"), "--check", "--config", str(config),
         "--port", str(port), "--sim-port", str(sim_port), "--modbus-port", str(modbus_port)],
        capture_output=True, text=True, timeout=900, env=_env(), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return config, port, result.stdout, sim_port, modbus_port


def test_develop_check(develop_check: tuple[Path, int, str, int, int]) -> None:
    config, _, out, _, _ = develop_check
    assert "username: dev" in out
    assert "lamp: create_entry Simulated Lamp" in out
    assert "check: ThingBridge offered under Add integration" in out
    assert "sensor.simulated_temperature_sensor_temperature" in out
    log = (config / "home-assistant.log").read_text()
    ours = [line for line in log.splitlines() if "ERROR" in line and "thingbridge" in line.lower()]
    assert ours == []
    # mDNS stayed on loopback: the network integration was told to use "lo" only.
    assert '"configured_adapters": ["lo"]' in (config / ".storage" / "core.network").read_text()


def test_the_simulated_modbus_meter_is_added_through_the_flow(
    develop_check: tuple[Path, int, str, int, int],
) -> None:
    """The simulated SDM630 is added by the Modbus steps of the config flow and reads watts."""
    config, _, out, _, modbus_port = develop_check
    line = next(x for x in out.splitlines() if "simulated Eastron SDM630 meter" in x)
    assert f"modbus+tcp://127.0.0.1:{modbus_port}/1/" in line
    assert line.endswith(" added)"), line
    assert re.search(r"check: sensor\.\S+ reads [0-9.]+ W", out), out
    entries = json.loads((config / ".storage" / "core.config_entries").read_text())
    (meter,) = [e for e in entries["data"]["entries"] if e["data"].get("kind") == "modbus_device"]
    assert meter["data"]["profile"] == "eastron-sdm630"
    assert meter["unique_id"] == f"127.0.0.1:{modbus_port}:1"


def test_port_is_honoured_without_http_yaml(develop_check: tuple[Path, int, str, int, int]) -> None:
    """--port alone moves Home Assistant: 2026.10 reads the HTTP settings from .storage/http."""
    config, port, out, _, _ = develop_check
    # No http: block: 2026.10 would migrate it once, then ignore it and raise a repair.
    assert "\nhttp:" not in (REPO / "config" / "configuration.yaml").read_text()
    assert f"Home Assistant is up at http://127.0.0.1:{port}" in out
    http = json.loads((config / ".storage" / "http").read_text())
    assert http["data"]["stable"]["server_port"] == port
    assert http["data"]["stable"]["server_host"] == ["127.0.0.1"]
    assert http["data"]["yaml_migration_done"] is True
    assert "no repairs" in out  # --check fails on any repair (the YAML one among them)


def test_log_path_follows_config(develop_check: tuple[Path, int, str, int, int]) -> None:
    config, _, out, _, _ = develop_check
    assert f"log: {config / 'home-assistant.log'}" in out


def test_simulator_state_is_kept_with_the_config(
    develop_check: tuple[Path, int, str, int, int],
) -> None:
    """The plug's meter is saved beside the config it belongs to, not in the checkout."""
    config, _, _, _, _ = develop_check
    plug = json.loads((config / ".simulator" / "plug.json").read_text())
    assert plug


def test_web_ui_calls_answer(develop_check: tuple[Path, int, str, int, int]) -> None:
    """The frontend's websocket get_services/get_config answer and nothing failed to set up."""
    config, _, out, _, _ = develop_check
    assert "check: get_services (" in out
    assert "none failed; no repairs" in out
    log = (config / "home-assistant.log").read_text()
    assert "Setup failed for 'assist_pipeline'" not in log
    # Onboarding's defaults (google_translate, met, radio_browser) are not set up at all.
    entries = json.loads((config / ".storage" / "core.config_entries").read_text())
    domains = {entry["domain"] for entry in entries["data"]["entries"]}
    assert domains.isdisjoint({"google_translate", "met", "radio_browser", "shopping_list"})
    assert "thingbridge" in domains


def test_check_catches_what_hung_the_web_ui(tmp_path: Path) -> None:
    """Without assist_pipeline's pymicro_vad the frontend's get_services fails: --check says so.

    The module is hidden from Home Assistant by one on PYTHONPATH that fails to import, as it
    did when requirements_develop.txt lacked it.
    """
    hidden = tmp_path / "hidden" / "pymicro_vad"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named pymicro_vad", name="pymicro_vad")\n'
    )
    config = _config_copy(tmp_path)
    result = subprocess.run(
        [str(REPO / "scripts" / "develop"), "--check", "--config", str(config),
         "--port", str(_free_port()), "--sim-port", str(_free_port()),
         "--modbus-port", str(_free_port())],
        capture_output=True, text=True, timeout=900, check=False,
        env={**_env(), "PYTHONPATH": str(hidden.parent)},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "scripts/develop: websocket get_services failed" in result.stderr
    assert "Setup failed for 'assist_pipeline'" in (config / "home-assistant.log").read_text()


def test_log_has_no_errors(develop_check: tuple[Path, int, str, int, int]) -> None:
    """No ERROR line at startup but the documented unavoidable ones (no ffmpeg, no libturbojpeg)."""
    config, _, out, _, _ = develop_check
    assert f"check: no ERROR lines in {config / 'home-assistant.log'}" in out
    unavoidable = {
        "No such file or directory: 'ffmpeg'": shutil.which("ffmpeg") is None,
        "Error loading libturbojpeg": ctypes.util.find_library("turbojpeg") is None,
    }
    errors = [
        line
        for line in (config / "home-assistant.log").read_text().splitlines()
        if " ERROR (" in line and not any(text in line and ok for text, ok in unavoidable.items())
    ]
    assert errors == []


def test_tracker_on_the_map(develop_check: tuple[Path, int, str, int, int]) -> None:
    """The gateway listens on loopback and the simulated tracker's device_tracker has a position."""
    config, _, out, _, _ = develop_check
    assert "GPS tracker gateway on 127.0.0.1: teltonika " in out
    assert "check: device_tracker.simulated_van has a position: 52.5" in out
    entries = json.loads((config / ".storage" / "core.config_entries").read_text())
    (gateway,) = [e for e in entries["data"]["entries"] if e["title"] == "GPS trackers"]
    assert gateway["options"]["listen_host"] == "127.0.0.1"
    assert [s["data"]["device_id"] for s in gateway["subentries"]] == ["356307042441013"]


def test_ready_file_and_clean_stop(tmp_path: Path) -> None:
    """--ready-file describes the running instance; SIGTERM stops everything cleanly."""
    config = _config_copy(tmp_path)
    port, sim_port, modbus_port = _free_port(), _free_port(), _free_port()
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [str(REPO / "scripts" / "develop"), "--config", str(config), "--port", str(port),
         "--sim-port", str(sim_port), "--modbus-port", str(modbus_port),
         "--ready-file", str(ready)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 900
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert ready.exists(), proc.stdout.read() if proc.poll() is not None else "not ready"
        info = json.loads(ready.read_text())
        assert info["url"] == f"http://127.0.0.1:{port}"
        assert info["username"] == "dev"
        assert (
            info["password"]
            == json.loads((config / ".dev_credentials.json").read_text())["password"]
        )
        assert info["config"] == str(config)
        assert info["sim_url"] == f"http://127.0.0.1:{sim_port}/"
        assert info["tracker"]["protocol"] == "teltonika"
        assert info["tracker"]["device_id"] == "356307042441013"
        assert info["tracker"]["entity_id"] == "device_tracker.simulated_van"
        with socket.create_connection(("127.0.0.1", info["tracker"]["port"]), timeout=5):
            pass  # the gateway listens where the file says
        assert info["modbus"]["port"] == modbus_port
        assert info["modbus"]["entity_id"].startswith("sensor.")
        with socket.create_connection(("127.0.0.1", modbus_port), timeout=5):
            pass  # and the simulated meter
        with urllib.request.urlopen(f"{info['sim_url']}things/lamp", timeout=10) as resp:
            assert json.load(resp)["title"] == "Simulated Lamp"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{info['url']}/api/", timeout=10)
        assert err.value.code == 401  # Home Assistant's API, asking for the token
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert not ready.exists()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=5),
    ):
        pass  # Home Assistant stopped
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", sim_port), timeout=5),
    ):
        pass  # and the simulator


def test_develop_again_on_the_same_config(develop_check: tuple[Path, int, str, int, int]) -> None:
    """A second start logs in, keeps the Things and the tracker, moves the gateway to free ports.

    Runs last in this module's order: it starts the instance again in the shared config dir.
    """
    config, _, first, sim_port, modbus_port = develop_check
    port = _free_port()
    result = subprocess.run(
        [str(REPO / "scripts" / "develop"), "--check", "--config", str(config),
         "--port", str(port), "--sim-port", str(sim_port), "--modbus-port", str(modbus_port)],
        capture_output=True, text=True, timeout=900, env=_env(), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Home Assistant is up at http://127.0.0.1:{port}" in result.stdout
    assert "lamp: abort already_configured" in result.stdout
    assert f"modbus+tcp://127.0.0.1:{modbus_port}/1/ (already added)" in result.stdout
    assert "check: device_tracker.simulated_van has a position" in result.stdout
    assert "no repairs" in result.stdout
    entries = json.loads((config / ".storage" / "core.config_entries").read_text())
    (gateway,) = [e for e in entries["data"]["entries"] if e["title"] == "GPS trackers"]
    assert len(gateway["subentries"]) == 1
    gateway_line = next(x for x in first.splitlines() if "GPS tracker gateway on" in x)
    assert f"teltonika {gateway['options']['ports']['teltonika']}," not in gateway_line


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
        for option in (
            "--check", "--config", "--port", "--sim-port", "--modbus-port", "--ready-file"
        ):  # fmt: skip
            assert option in result.stdout
        assert not marker.exists()
