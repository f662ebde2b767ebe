"""The Server-Sent Events parser, fed the way a network delivers bytes."""

from __future__ import annotations

import itertools

from hypothesis import given, strategies as st
import pytest

from custom_components.thingbridge.wot.sse import SseEvent, SseLimitError, SseParser

STREAM = (
    b"\xef\xbb\xbf: a comment\n"
    b"event: level\n"
    b"data: 42\n"
    b"id: 2021-11-17T15:33:20.827Z\n"
    b"\n"
    b'data:{"a":\r\n'
    b"data: 1}\r\n"
    b"\r\n"
    b"retry: 2500\r"
    b"event:alarm\r"
    b"data\r"
    b"\r"
    b"event: no-data\n"
    b"\n"
    b"id: bad\0id\n"
    b"retry: 12x\n"
    b"data: \xc3\xa9t\xc3\xa9\n"
    b"\n"
    b"data: unterminated"
)

EXPECTED = [
    SseEvent(event="level", data="42", id="2021-11-17T15:33:20.827Z"),
    SseEvent(event="message", data='{"a":\n1}', id="2021-11-17T15:33:20.827Z"),
    SseEvent(event="alarm", data="", id="2021-11-17T15:33:20.827Z"),
    SseEvent(event="message", data="été", id="2021-11-17T15:33:20.827Z"),
]


def test_whole_stream() -> None:
    parser = SseParser()
    assert parser.feed(STREAM) == EXPECTED
    assert parser.retry_ms == 2500
    assert parser.last_event_id == "2021-11-17T15:33:20.827Z"


def test_byte_by_byte() -> None:
    parser = SseParser()
    events = [event for byte in STREAM for event in parser.feed(bytes([byte]))]
    assert events == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted({0, len(STREAM), *cuts})
    parser = SseParser()
    events = [
        event
        for start, end in itertools.pairwise(points)
        for event in parser.feed(STREAM[start:end])
    ]
    assert events == EXPECTED


def test_line_limit_even_without_a_line_end() -> None:
    parser = SseParser(max_line=16)
    assert parser.feed(b"data: 0123456789\n\n") == [SseEvent("message", "0123456789", None)]
    with pytest.raises(SseLimitError, match="line longer than 16 bytes"):
        parser.feed(b"data: 0123456789abcdef")
    with pytest.raises(SseLimitError, match="line longer than 16 bytes"):
        SseParser(max_line=16).feed(b"data: 0123456789abcdef\n")


def test_event_limit() -> None:
    parser = SseParser(max_line=100, max_event=30)
    with pytest.raises(SseLimitError, match="event larger than 30 bytes"):
        parser.feed(b"data: 0123456789\ndata: 0123456789\n")
