"""Property tests: any bytes, and mutated valid frames, give only typed results.

Every decoder must return (or, for the one-shot parsers, raise) nothing but
:class:`ProtocolError` subclasses, never another exception, keep its buffer under its
bound, and produce only well-formed positions.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
import itertools
import json
import os

from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.thingbridge.m2m.trackers import (
    CobanDecoder,
    Frame,
    Gt06Decoder,
    H02Decoder,
    Position,
    ProtocolError,
    StatusReport,
    StreamDecoder,
    TeltonikaDecoder,
    TeltonikaUdpDecoder,
    Tk103Decoder,
    parse_json,
    parse_query,
    parse_request,
)

from .test_trackers_gt06 import LBS, frame as gt06_frame, gps, login as gt06_login, status
from .test_trackers_teltonika import Rec, encode_login, encode_packet, encode_udp, full_record
from .test_trackers_text import coban, h02_binary, h02_text, tk103_fixed

BOUND = 512
# TRACKERS_FUZZ_EXAMPLES=5000 runs a deeper search by hand; the suite keeps it quick.
FUZZ = settings(
    max_examples=int(os.environ.get("TRACKERS_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

DECODERS: dict[str, Callable[[], StreamDecoder]] = {
    "teltonika": lambda: TeltonikaDecoder(max_buffer=BOUND),
    "teltonika-lenient": lambda: TeltonikaDecoder(max_buffer=BOUND, lenient=True, device_id="1"),
    "gt06": lambda: Gt06Decoder(max_buffer=BOUND, device_id="1"),
    "gt06-lenient": lambda: Gt06Decoder(max_buffer=BOUND, lenient=True, device_id="1"),
    "tk103": lambda: Tk103Decoder(max_buffer=BOUND),
    "coban": lambda: CobanDecoder(max_buffer=BOUND),
    "h02": lambda: H02Decoder(max_buffer=BOUND),
    "h02-32": lambda: H02Decoder(max_buffer=BOUND, binary_length=32),
}

SEEDS: list[bytes] = [
    encode_login() + encode_packet([full_record()]) + encode_packet([Rec(), Rec()], 0x8E),
    encode_packet([Rec(event=449, io={4: [(449, 5)]})], 0x10),
    gt06_login()
    + gt06_frame(0x12, gps() + LBS, 2)
    + gt06_frame(0x16, gps() + bytes((9,)) + LBS + status(), 3),
    gt06_frame(0x13, status(), 4) + gt06_frame(0x94, b"\x00\x04\xd2", 5, extended=True),
    tk103_fixed()
    + tk103_fixed(command="BP05", prefix="354188048003342")
    + b"(013612345678BP00HSO)",
    b"(013612345678,ZC20,300724,235807,5,398,124,1)(864768010869060,BP05,300724,A,5135.8271N,00001.1791W,12.5,235807,90.5)",
    b"##,imei:359710045559474,A;" + coban() + b"359710045559474;" + coban(keyword="help me"),
    h02_text() + h02_binary() + h02_text(kind="V8") + b"*HQ,4210051415,HTBT,80#",
    h02_binary(length=32) + h02_binary(length=32),
]


def _check(decoder: StreamDecoder, items: list[Frame | ProtocolError]) -> None:
    assert decoder.buffered <= decoder.max_buffer
    for item in items:
        assert isinstance(item, (Frame, ProtocolError)), item
        if isinstance(item, Frame):
            for message in item.messages:
                if isinstance(message, Position):
                    assert -90.0 <= message.latitude <= 90.0
                    assert -180.0 <= message.longitude <= 180.0
                    assert message.fix_time.tzinfo is UTC


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 8))]
        elif op == "truncate":
            del data[i:]
        else:
            data[i:i] = data[i : i + draw(st.integers(1, 40))]
    return bytes(data)


@FUZZ
@given(
    name=st.sampled_from(sorted(DECODERS)),
    data=st.binary(max_size=2048),
    cuts=st.lists(st.integers(0, 4096), max_size=8),
)
def test_random_bytes(name: str, data: bytes, cuts: list[int]) -> None:
    decoder = DECODERS[name]()
    for chunk in _chunks(data, cuts):
        _check(decoder, decoder.feed(chunk))
    _check(decoder, decoder.flush())
    assert decoder.buffered == 0


@FUZZ
@given(
    name=st.sampled_from(sorted(DECODERS)),
    data=mutated(),
    cuts=st.lists(st.integers(0, 4096), max_size=8),
)
def test_mutated_frames(name: str, data: bytes, cuts: list[int]) -> None:
    decoder = DECODERS[name]()
    for chunk in _chunks(data, cuts):
        _check(decoder, decoder.feed(chunk))
    _check(decoder, decoder.decode_datagram(data))


@FUZZ
@given(
    name=st.sampled_from(sorted(DECODERS)),
    noise=st.binary(max_size=300),
    seed=st.sampled_from(SEEDS),
)
def test_valid_frames_survive_leading_noise(name: str, noise: bytes, seed: bytes) -> None:
    """After arbitrary noise and a flush, the decoder still decodes a clean stream."""
    decoder = DECODERS[name]()
    _check(decoder, decoder.feed(noise))
    decoder.reset()
    clean = DECODERS[name]().feed(seed)
    assert [_key(i) for i in decoder.feed(seed)] == [_key(i) for i in clean]


def _key(item: Frame | ProtocolError) -> object:
    return item if isinstance(item, Frame) else (type(item), str(item), item.raw)


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=600),
        mutated(),
        st.sampled_from([encode_udp([Rec()]), encode_udp([full_record()], 0x8E)]),
    )
)
def test_teltonika_udp(data: bytes) -> None:
    for lenient in (False, True):
        items = TeltonikaUdpDecoder(lenient=lenient).decode_datagram(data)
        assert len(items) == 1
        assert isinstance(items[0], (Frame, ProtocolError))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [
        "device_id",
        "location",
        "timestamp",
        "coords",
        "latitude",
        "longitude",
        "speed",
        "heading",
        "battery",
        "level",
        "is_charging",
        "odometer",
        "extras",
        "is_moving",
        "alarm",
    ]
)


@st.composite
def json_bodies(draw: st.DrawFn) -> str:
    location = draw(st.dictionaries(KEYS, JSON_VALUES, max_size=8))
    if draw(st.booleans()):
        location["timestamp"] = draw(
            st.sampled_from(["2025-01-01T00:00:00Z", "x", "2025-13-01T00:00:00"])
        )
    if draw(st.booleans()):
        location["coords"] = draw(st.dictionaries(KEYS, JSON_VALUES, max_size=6))
    root = {"device_id": draw(JSON_VALUES), "location": location}
    return json.dumps(root, allow_nan=True)


@st.composite
def queries(draw: st.DrawFn) -> str:
    keys = [
        "id",
        "lat",
        "lon",
        "timestamp",
        "speed",
        "bearing",
        "altitude",
        "batt",
        "charge",
        "location",
        "cell",
        "wifi",
        "valid",
        "hdop",
        "x",
    ]
    pairs = draw(st.lists(st.tuples(st.sampled_from(keys), st.text(max_size=24)), max_size=10))
    return "&".join(f"{k}={v}" for k, v in pairs)


@FUZZ
@given(text=st.one_of(st.text(max_size=300), queries(), json_bodies()), raw=st.binary(max_size=200))
def test_osmand_parsers_raise_only_protocol_errors(text: str, raw: bytes) -> None:
    calls: list[Callable[[], object]] = [
        lambda: parse_query(text, received_at=datetime(2025, 1, 1, tzinfo=UTC)),
        lambda: parse_json(text),
        lambda: parse_json(raw),
        lambda: parse_request(query=text, body=raw),
        lambda: parse_request(body=text, content_type="application/json"),
        lambda: parse_request(
            query="/", body=text.encode(), content_type="application/x-www-form-urlencoded"
        ),
    ]
    for call in calls:
        try:
            result = call()
        except ProtocolError:
            continue
        reports = result if isinstance(result, list) else [result]
        for report in reports:
            assert isinstance(report, (Position, StatusReport))
            assert report.device_id
            if isinstance(report, Position):
                assert -90.0 <= report.latitude <= 90.0
                assert report.fix_time.tzinfo is UTC
