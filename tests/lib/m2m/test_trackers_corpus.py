"""Every real-device sample in the shared corpus decodes to its expected values and replies.

The corpus (``shared/corpus/trackers/samples.json``) lives beside the repository; the
tests skip when it is absent.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import re
from typing import Any

import pytest

from custom_components.thingbridge.m2m.journal import _row
from custom_components.thingbridge.m2m.trackers import (
    PROTOCOLS,
    ChecksumError,
    CobanDecoder,
    CommandResponse,
    DeviceState,
    Frame,
    Gt06Decoder,
    H02Decoder,
    Item,
    Login,
    MissingFieldError,
    Position,
    ProtocolError,
    StatusReport,
    TeltonikaDecoder,
    TeltonikaUdpDecoder,
    Tk103Decoder,
    parse_text,
)
from custom_components.thingbridge.m2m.trackers.model import KNOTS_TO_KMH, AnyMessage

REPO = Path(__file__).resolve().parents[3]
CORPUS = REPO.parent / "shared" / "corpus" / "trackers" / "samples.json"
NOW = datetime(2026, 11, 25, 12, 34, 56, tzinfo=UTC)
TOL = 1e-5


def _load() -> list[dict[str, Any]]:
    if not CORPUS.is_file():
        return []
    samples: list[dict[str, Any]] = json.loads(CORPUS.read_text())
    return samples


SAMPLES = _load()
pytestmark = pytest.mark.skipif(not SAMPLES, reason=f"corpus not found at {CORPUS}")


def _protocol(sample: dict[str, Any]) -> str:
    name = str(sample["protocol"])
    return "coban" if name.startswith("gps103") else name


def _ids() -> list[str]:
    counts: dict[str, int] = {}
    out = []
    for sample in SAMPLES:
        name = _protocol(sample)
        counts[name] = counts.get(name, 0) + 1
        out.append(f"{name}-{counts[name]:02d}")
    return out


def _payload(sample: dict[str, Any]) -> bytes:
    text = str(sample["hex_or_text"])
    return bytes.fromhex(text) if sample["encoding"] == "hex" else text.encode()


def _decode(sample: dict[str, Any], *, lenient: bool = False, now: datetime = NOW) -> list[Item]:
    name = _protocol(sample)
    data = _payload(sample)
    if name == "teltonika" and sample["transport"] == "udp":
        return TeltonikaUdpDecoder(lenient=lenient).decode_datagram(data)
    if name == "teltonika":
        return TeltonikaDecoder(device_id="corpus", lenient=lenient).decode_datagram(data)
    if name == "gt06":
        return Gt06Decoder(device_id="corpus", lenient=lenient).decode_datagram(data)
    if name == "tk103":
        return Tk103Decoder().decode_datagram(data)
    if name == "h02":
        return H02Decoder(clock=lambda: now).decode_datagram(data)
    if name == "coban":
        return CobanDecoder().decode_datagram(data)
    assert name == "osmand"
    try:
        reports = parse_text(data, received_at=now)
    except ProtocolError as err:
        return [err]
    return [
        Frame(protocol=name, kind="http", device_id=r.device_id, messages=(r,), raw=r.raw)
        for r in reports
    ]


def _frames(items: list[Item]) -> list[Frame]:
    errors = [i for i in items if isinstance(i, ProtocolError)]
    assert not errors, errors
    frames = [i for i in items if isinstance(i, Frame)]
    assert len(frames) == 1, items
    return frames


def _first(frame: Frame, cls: type[AnyMessage]) -> Any:
    found = [m for m in frame.messages if isinstance(m, cls)]
    assert found, f"no {cls.__name__} in {frame.messages}"
    return found[0]


def _time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").split(" (")[0])
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _check_expected(frame: Frame, expected: dict[str, Any]) -> None:
    message = frame.messages[-1]
    if "latitude" in expected:
        assert isinstance(message, Position)
        tol = float(expected.get("tolerance", TOL))
        assert message.latitude == pytest.approx(expected["latitude"], abs=tol)
        assert message.longitude == pytest.approx(expected["longitude"], abs=tol)
        assert message.valid is expected["valid"]
        assert message.fix_time == _time(expected["time_utc"])
    for key, value in (expected.get("attributes") or {}).items():
        if key == "driverUniqueId":
            assert isinstance(message, CommandResponse)
            assert message.driver_id == value
        elif key == "batteryLevel":
            assert getattr(message, "battery_percent", None) == pytest.approx(value)
        elif key == "alarm":
            assert value in (getattr(message, "alarm", None) or "").split(",")
        elif key == "power":
            assert getattr(message, "external_voltage_v", None) == pytest.approx(value)
        elif key == "status":
            assert getattr(message, "io", {}).get("status") == int(value, 16)
        else:  # pragma: no cover - a new corpus attribute needs a mapping here
            pytest.fail(f"no mapping for expected attribute {key!r}")


def _expected_reply(text: str, device_id: str | None) -> bytes | None:
    """The literal reply a ``traccar_reply`` description names (placeholders filled)."""
    if text.startswith("none"):
        vendor = re.search(r"vendor reply would be (\(.*?\))\)", text)
        return vendor.group(1).replace("<id>", device_id or "").encode() if vendor else None
    filled = re.sub(r"<yyyyMMddHHmmss[^>]*>", NOW.strftime("%Y%m%d%H%M%S"), text)
    return filled.split(" ")[0].encode()


def _check_position(
    message: Position, derived: dict[str, Any], *, speed_key: str = "speed_kmh"
) -> None:
    assert message.latitude == pytest.approx(derived["latitude"], abs=TOL)
    assert message.longitude == pytest.approx(derived["longitude"], abs=TOL)
    if "valid" in derived:
        assert message.valid is derived["valid"]
    if "datetime_utc" in derived:
        assert message.fix_time == _time(derived["datetime_utc"])
    if speed_key in derived:
        assert message.speed_kmh == pytest.approx(
            derived[speed_key] * (KNOTS_TO_KMH if "knots" in speed_key else 1), abs=0.01
        )
    if "course_deg" in derived:
        assert (message.course_deg or 0.0) == pytest.approx(derived["course_deg"])
    if "status_hex" in derived:
        assert message.io["status"] == int(derived["status_hex"], 16)


def _check_teltonika(sample: dict[str, Any], derived: dict[str, Any]) -> None:
    kind = derived["kind"]
    if kind == "malformed":
        for lenient in (False, True):
            items = _decode(sample, lenient=lenient)
            assert not any(isinstance(i, Frame) and i.positions for i in items), items
            assert any(isinstance(i, ProtocolError) for i in items)
        return
    (frame,) = _frames(_decode(sample))
    if kind == "imei_login":
        login = _first(frame, Login)
        assert login.device_id == frame.device_id == derived["imei"]
        assert frame.reply == bytes.fromhex(derived["server_reply_hex_if_accepted"])
        assert frame.reject_reply == bytes.fromhex(derived["server_reply_hex_if_rejected"])
        return
    if kind == "avl_udp":
        assert frame.device_id == derived["imei"]
    else:
        assert frame.checksum_ok is derived["crc_valid"] is True
    ack = derived.get("server_ack_hex")
    assert frame.reply == (bytes.fromhex(ack) if ack else None)
    first = derived.get("first_record")
    if first is None:
        response = _first(frame, CommandResponse)
        payload = derived.get("payload_hex") or derived["payload_ascii"].encode().hex()
        assert response.payload.hex() == payload.lower()
        return
    positions = frame.positions
    assert len(positions) == derived.get("records", 1)
    pos = positions[0]
    assert pos.fix_time == _time(first["timestamp_utc"])
    assert pos.latitude == pytest.approx(first["latitude"], abs=TOL)
    assert pos.longitude == pytest.approx(first["longitude"], abs=TOL)
    for key, attr in (
        ("altitude_m", "altitude_m"),
        ("angle_deg", "course_deg"),
        ("speed_kmh", "speed_kmh"),
    ):
        if key in first:
            assert getattr(pos, attr) == pytest.approx(first[key])
    if "satellites" in first:
        assert pos.satellites == first["satellites"]
        assert pos.valid is (first["satellites"] > 0)
    if "priority" in first:
        assert pos.io["priority"] == first["priority"]


def _check_gt06(sample: dict[str, Any], derived: dict[str, Any]) -> None:
    if not derived["crc_valid"]:
        (err,) = _decode(sample)
        assert isinstance(err, ChecksumError)
        assert err.expected == int(derived["crc_itu_computed"], 16)
        assert err.actual == int(derived["crc_itu_field"], 16)
    (frame,) = _frames(_decode(sample, lenient=True))
    assert frame.checksum_ok is derived["crc_valid"]
    reply = derived.get("traccar_reply_hex")
    assert frame.reply == (bytes.fromhex(reply) if reply else None)
    if "observed_server_reply_hex" in derived:
        assert frame.reply == bytes.fromhex(derived["observed_server_reply_hex"])
    if "imei" in derived:
        assert _first(frame, Login).device_id == derived["imei"]
    if "latitude" in derived:
        pos = _first(frame, Position)
        _check_position(pos, derived)
        assert pos.satellites == derived["satellites"]
        assert pos.valid is derived["gps_fixed_bit12"]
        assert pos.io["course_status"] == int(derived["course_status_word"], 16)
        assert pos.fix_time == _time(derived["datetime"])


def _check_text(sample: dict[str, Any], derived: dict[str, Any]) -> None:
    (frame,) = _frames(_decode(sample))
    if "traccar_reply" in derived:
        assert frame.reply == _expected_reply(derived["traccar_reply"], frame.device_id)
    if "latitude" in derived:
        pos = _first(frame, Position)
        _check_position(
            pos,
            derived,
            speed_key="speed_knots_per_traccar"
            if "speed_knots_per_traccar" in derived
            else "speed_kmh",
        )
    if "id" in derived:
        assert frame.device_id == derived["id"]
    if "mileage_hex" in derived:
        assert _first(frame, Position).odometer_m == int(derived["mileage_hex"], 16)


def _check_osmand(sample: dict[str, Any], derived: dict[str, Any]) -> None:
    items = _decode(sample)
    status = derived.get("traccar_http_status")
    if status == 400:
        (err,) = items
        assert isinstance(err, MissingFieldError)
        assert err.field == "id"
        return
    (frame,) = _frames(items)
    message = frame.messages[0]
    params = derived.get("params", {})
    if "lat" in params or "location" in params or "latitude" in derived:
        assert isinstance(message, Position)
        lat = derived.get(
            "latitude", float(params.get("lat", params.get("location", "0,0").split(",")[0]))
        )
        assert message.latitude == pytest.approx(float(lat), abs=TOL)
    else:
        assert isinstance(message, StatusReport)
    device = derived.get("device_id") or params.get("id") or params.get("deviceid")
    assert message.device_id == device
    if "speed" in params:
        assert isinstance(message, Position)
        assert message.speed_kmh == pytest.approx(float(params["speed"]) * KNOTS_TO_KMH)
    if "speed_knots" in derived:
        assert isinstance(message, Position)
        assert message.speed_kmh == pytest.approx(derived["speed_knots"] * KNOTS_TO_KMH, abs=0.05)
    if "batteryLevel" in derived:
        assert message.battery_percent == derived["batteryLevel"]
    if "timestamp" not in params and "timestamp" not in sample["hex_or_text"]:
        assert getattr(message, "fix_time", None) == NOW


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids())
def test_sample(sample: dict[str, Any]) -> None:
    name = _protocol(sample)
    derived = sample.get("derived") or {}
    expected = sample.get("expected")
    if name == "teltonika":
        _check_teltonika(sample, derived)
    elif name == "gt06":
        _check_gt06(sample, derived)
    elif name in ("tk103", "h02", "coban"):
        _check_text(sample, derived)
    else:
        _check_osmand(sample, derived)
    if expected:
        (frame,) = _frames(_decode(sample, lenient=name == "gt06"))
        _check_expected(frame, expected)


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids())
def test_a_resent_sample_has_the_same_journal_identity(sample: dict[str, Any]) -> None:
    """The journal recognises a resend by the whole decoded record, so decoding the same
    bytes later must give the same stored fields: no server time in them, except the
    arrival time a fix without any time of its own is stamped with (never a resend)."""
    later = NOW + timedelta(hours=5, minutes=3, seconds=7)
    first, again = (
        [p for i in _decode(sample, lenient=True, now=now) if isinstance(i, Frame) for p in i.positions]
        for now in (NOW, later)
    )  # fmt: skip
    assert len(first) == len(again)
    for a, b in zip(first, again, strict=True):
        if a.fix_time == NOW.replace(microsecond=0):  # stamped on arrival
            assert b.fix_time == later.replace(microsecond=0)
            continue
        assert _row(a, 0)[6:] == _row(b, 1)[6:]  # data and digest; received is not identity


_VALUES = {
    f.name for cls in (Position, DeviceState) for f in dataclasses.fields(cls)
} - {"protocol", "device_id", "raw", "checksum_ok", "time", "fix_time", "latitude", "longitude",
     "valid", "io"}  # fmt: skip


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids())
def test_a_sample_fills_only_its_protocols_fields(sample: dict[str, Any]) -> None:
    """The protocol table's ``fields`` (which the glue makes sensors from) cover real devices."""
    name = _protocol(sample)
    filled = {
        field
        for item in _decode(sample, lenient=True)
        if isinstance(item, Frame)
        for message in item.messages
        for field in _VALUES
        if getattr(message, field, None) is not None
    }
    assert filled <= PROTOCOLS[name].fields


def test_corpus_covers_every_protocol() -> None:
    assert {_protocol(s) for s in SAMPLES} == {
        "teltonika",
        "gt06",
        "tk103",
        "h02",
        "coban",
        "osmand",
    }
