"""A real MQTT broker for tests: Debian's Mosquitto on a free loopback port.

``scripts/setup`` installs it (root on a Debian-family host). Without it the tests that need
it skip naming why, except under CI (``CI`` set), where they fail instead: CI must run them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
import os
from pathlib import Path
import shutil
import socket
import subprocess
import time

from homeassistant.components import mqtt
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from tests.tracker_support import wait_for

HOST = "127.0.0.1"


def mosquitto_binary() -> str | None:
    """The mosquitto executable (Debian installs it in /usr/sbin, often not on PATH)."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def skip_or_fail(reason: str) -> None:
    """Skip the test naming ``reason``; under CI fail instead."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI must run the MQTT tests, but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _accepting(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def run_mosquitto(workdir: Path) -> Iterator[int]:
    """Run a broker on a free loopback port (anonymous, no persistence); yield the port."""
    binary = mosquitto_binary()
    if binary is None:
        skip_or_fail(
            "mosquitto is not installed (scripts/setup installs Debian's package as root;"
            " or: apt-get install mosquitto)"
        )
        raise AssertionError("unreachable")  # pragma: no cover - skip raises
    for _attempt in range(3):  # the port may be taken between picking and binding it
        port = _free_port()
        config = workdir / f"mosquitto-{port}.conf"
        config.write_text(
            f"listener {port} {HOST}\nallow_anonymous true\npersistence false\n"
            "log_dest stderr\nlog_type error\nlog_type warning\n"
        )
        log = (workdir / f"mosquitto-{port}.log").open("wb")
        proc = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and proc.poll() is None and not _accepting(port):
            time.sleep(0.02)
        if proc.poll() is None and _accepting(port):
            try:
                yield port
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:  # pragma: no cover - a stuck broker
                    proc.kill()
                    proc.wait()
                log.close()
            return
        proc.kill()
        proc.wait()
        log.close()
    pytest.fail(f"mosquitto did not start: {(workdir / f'mosquitto-{port}.log').read_text()}")


@asynccontextmanager
async def home_assistant_mqtt(hass: HomeAssistant, workdir: Path) -> AsyncIterator[int]:
    """Mosquitto, and Home Assistant's real MQTT integration connected to it; yield the port."""
    with run_mosquitto(workdir) as port:
        # MQTT reads configuration.yaml at setup (for YAML-configured entities): an empty one
        config_yaml = Path(hass.config.path("configuration.yaml"))
        await hass.async_add_executor_job(config_yaml.write_text, "")
        entry = MockConfigEntry(
            domain=mqtt.DOMAIN,
            data={mqtt.CONF_BROKER: HOST, "port": port, "discovery": False},
            version=2,
            minor_version=1,
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await wait_for(hass, lambda: mqtt.is_connected(hass), "MQTT to connect to Mosquitto")
        yield port
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
