"""Run the end-to-end discovery test inside a private network namespace (``unshare -n``).

mDNS multicast must never leave this machine's sandbox, so the real browser/responder test runs
in a namespace of its own whose only interface is loopback (with multicast switched on). Skipped
where user namespaces or ``unshare`` are not available.
"""

from __future__ import annotations

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parent.parent
INNER = "tests/netns/test_e2e_discovery.py"


def _namespace_prefix() -> list[str] | None:
    """The command prefix that gives a private network namespace, if this host allows one."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    for flags in (["-n"], ["-rn"]):
        probe = subprocess.run(
            [unshare, *flags, "true"], capture_output=True, check=False, timeout=30
        )
        if probe.returncode == 0:
            return [unshare, *flags]
    return None


def test_discovery_end_to_end_in_a_private_namespace() -> None:
    prefix = _namespace_prefix()
    if prefix is None:
        pytest.skip("no private network namespace can be made here (unshare -n refused)")
    script = (
        "ip link set lo up && ip link set lo multicast on && "
        f'exec "{sys.executable}" -m pytest -p no:cacheprovider --no-cov -q {INNER}'
    )
    env = {**os.environ, "THINGBRIDGE_NETNS": "1"}
    result = subprocess.run(
        [*prefix, "sh", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "1 passed" in output, output[-6000:]
