"""The decode command line, run as a real subprocess, and the stream base class."""

from __future__ import annotations

import io
import json
from pathlib import Path
import subprocess
import sys
from typing import Any

import pytest

from custom_components.thingbridge.m2m.trackers import (
    PROTOCOLS,
    BufferOverflowError,
    Frame,
    ProtocolError,
    StreamDecoder,
    create_decoder,
)
from custom_components.thingbridge.m2m.trackers.__main__ import main
from custom_components.thingbridge.m2m.trackers.stream import Step

from .test_trackers_gt06 import LBS, frame as gt06_frame, gps, login as gt06_login
from .test_trackers_teltonika import Rec, encode_login, encode_packet, encode_udp

REPO = Path(__file__).resolve().parents[3]
MODULE = "custom_components.thingbridge.m2m.trackers"


def _parse(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def run(*args: str, stdin: str | None = None) -> tuple[int, list[dict[str, Any]], str]:
    """Run the command line as a real subprocess (slow: the package imports Home Assistant)."""
    proc = subprocess.run(
        [sys.executable, "-m", MODULE, *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, _parse(proc.stdout), proc.stdout + proc.stderr


def call(
    *args: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None
) -> tuple[int, list[dict[str, Any]], str]:
    """Run the command line's ``main`` in this process."""
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, _parse(out.getvalue()), out.getvalue()


def test_list_prints_protocols_with_traccar_ports() -> None:
    code, _, out = run("--list")
    assert code == 0
    for name, port in (
        ("teltonika", 5027),
        ("gt06", 5023),
        ("tk103", 5002),
        ("coban", 5001),
        ("h02", 5013),
        ("osmand", 5055),
    ):
        assert any(line.split()[:2] == [name, str(port)] for line in out.splitlines()), out
    code, _, again = call("decode", "--list")
    assert code == 0
    assert again == out


def test_decode_gt06_hex_with_spaces_and_colons() -> None:
    data = gt06_login() + gt06_frame(0x12, gps() + LBS, 7)
    spaced = " ".join(f"{b:02x}" for b in data[:20]) + " " + ":".join(f"{b:02X}" for b in data[20:])
    code, lines, out = run("decode", "--protocol", "gt06", spaced)
    assert code == 0, out
    login, position = lines
    assert login["type"] == "frame"
    assert login["kind"] == "login"
    assert login["reply"] == gt06_frame(0x01, b"", 1).hex()
    assert position["messages"][0]["message"] == "position"
    assert position["messages"][0]["latitude"] == pytest.approx(22.546789, abs=1e-5)
    assert position["messages"][0]["fix_time"] == "2024-03-09T14:05:33+00:00"
    assert position["reply"] == gt06_frame(0x12, b"", 7).hex()


def test_decode_errors_exit_2_with_json_error_lines() -> None:
    bad = gt06_frame(0x13, b"\x44\x06\x04\x00\x02", crc=0xABCD)
    code, lines, _ = run("decode", "-p", "gt06", "--device-id", "1", bad.hex())
    assert code == 2
    (err,) = lines
    assert err["type"] == "error"
    assert err["error"] == "ChecksumError"
    assert err["actual"] == "0xABCD"
    code, lines, _ = call("decode", "-p", "gt06", "--lenient", "--device-id", "1", bad.hex())
    assert code == 0
    assert lines[0]["checksum_ok"] is False
    code, lines, _ = call("decode", "-p", "teltonika", "not hex at all")
    assert code == 2
    assert lines[0]["error"] == "FrameError"


def test_decode_teltonika_stream_chunks_and_udp_datagram() -> None:
    packet = encode_packet([Rec()])
    code, lines, out = call(
        "decode", "-p", "teltonika", encode_login().hex(), packet[:10].hex(), packet[10:].hex()
    )
    assert code == 0, out
    assert [line["kind"] for line in lines] == ["login", "avl"]
    assert lines[1]["reply"] == "00000001"
    code, lines, out = call(
        "decode", "-p", "teltonika", encode_udp([Rec()], packet_id=0x0102, avl_id=9).hex()
    )
    assert code == 0, out
    assert lines[0]["reply"] == "0005010201" + "0901"
    code, lines, _ = call("decode", "-p", "teltonika", packet[:30].hex())
    assert code == 2
    assert lines[-1]["error"] == "IncompleteFrameError"


def test_decode_text_protocols_and_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines, out = call("decode", "-p", "gps103", "##,imei:359710045559474,A;")
    assert code == 0, out
    assert lines[0]["reply"] == b"LOAD".hex()
    code, lines, out = call(
        "decode",
        "-p",
        "h02",
        stdin="*HQ,4210051415,V1,164549,A,0956.3869,N,08406.7068,W,000.00,000,221215,FFFFFBFF#\n",
        monkeypatch=monkeypatch,
    )
    assert code == 0, out
    assert lines[0]["messages"][0]["longitude"] == pytest.approx(-84.11178, abs=1e-5)
    code, lines, out = call(
        "decode",
        "-p",
        "h02",
        "24410600082621532131081504419390060740418306000000fffffbfdff0015060000002c02dc0c000000001f",
    )
    assert code == 0, out
    assert lines[0]["kind"] == "binary"
    code, lines, out = call(
        "decode",
        "-p",
        "tk103",
        "(088047365460BR00151024A2555.3531S02855.3329E004.7055148276.1701000000L00009AA3)",
    )
    assert code == 0, out
    assert lines[0]["messages"][0]["odometer_m"] == 0x9AA3


def test_decode_osmand_json_and_missing_id() -> None:
    body = json.dumps(
        {
            "device_id": "p1",
            "location": {
                "timestamp": "2025-01-01T00:00:00Z",
                "coords": {"latitude": 1, "longitude": 2, "speed": 10},
            },
        }
    )
    code, lines, out = call("decode", "-p", "osmand", body)
    assert code == 0, out
    assert lines[0]["messages"][0]["speed_kmh"] == pytest.approx(36.0)
    code, lines, _ = call("decode", "-p", "osmand", "/?lat=1&lon=2")
    assert code == 2
    assert lines[0]["error"] == "MissingFieldError"
    assert lines[0]["field"] == "id"


def test_registry_and_factory() -> None:
    assert {p.name: p.port for p in PROTOCOLS.values()}["coban"] == 5001
    assert PROTOCOLS["coban"].traccar_name == "gps103"
    assert create_decoder("gps103").protocol == "coban"
    with pytest.raises(ValueError, match="osmand"):
        create_decoder("osmand")


class _NeverComplete(StreamDecoder):
    """A decoder that always waits for more data: only the bound can stop it."""

    protocol = "test"

    def _step(self, buf: bytes, pos: int) -> Step | None:
        return None


class _Stuck(StreamDecoder):
    """A decoder whose step never advances: the base class must force progress."""

    protocol = "test"

    def _step(self, buf: bytes, pos: int) -> Step | None:
        return pos, None


def test_buffer_bound_reports_overflow_and_discards() -> None:
    decoder = _NeverComplete(max_buffer=100)
    assert decoder.feed(b"x" * 100) == []
    assert decoder.buffered == 100
    (err,) = decoder.feed(b"y")
    assert isinstance(err, BufferOverflowError)
    assert (err.limit, err.size) == (100, 101)
    assert decoder.buffered == 0
    with pytest.raises(ValueError, match="max_buffer"):
        _NeverComplete(max_buffer=10)


def test_a_step_without_progress_cannot_hang_the_loop() -> None:
    items = _Stuck().feed(b"abc")
    assert len(items) == 3
    assert all(isinstance(i, ProtocolError) and "no progress" in str(i) for i in items)
    assert not any(isinstance(i, Frame) for i in items)


def test_modes_transports_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, out = call(
        "decode",
        "-p",
        "h02",
        "--text",
        "--transport",
        "udp",
        "*HQ,4210051415,V0#",
        "*HQ,4210051416,V0#",
    )
    assert code == 0, out
    assert [line["device_id"] for line in lines] == ["4210051415", "4210051416"]
    code, lines, _ = call("decode", "-p", "tk103", "--hex", "28 31 29")  # "(1)" given as hex
    assert code == 2
    assert lines[0]["error"] == "FrameError"
    assert main([], out=io.StringIO()) == 2
    with pytest.raises(SystemExit) as caught:
        main(["decode", "deadbeef"], out=io.StringIO())
    assert caught.value.code == 2
    assert "--protocol is required" in capsys.readouterr().err
