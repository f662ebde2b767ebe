"""Incremental parser for Server-Sent Events (WHATWG HTML, "Interpreting an event stream").

Hand-written rather than taken from a library: the aiohttp SSE clients on PyPI
(aiohttp-sse-client, last release 2021; aiohttp-sse-client2, 2023) are unmaintained and own
the connection, reconnection and method choice themselves, while a consumer of WoT Things needs
the form's method, its own backoff and host checks, and hard limits on line and event size
against hostile devices. The parsing rules are short and fully specified, so they are
implemented here byte for byte: lines end in CRLF, LF or CR (also when split across reads), a
leading BOM is dropped, ``:`` starts a comment, one space after the colon is removed, ``data``
lines join with LF, ``id`` without NUL sets the last event ID, ``retry`` takes ASCII digits only,
and an event is dispatched on an empty line when it has data.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LINE_BYTES = 64 * 1024
MAX_EVENT_BYTES = 256 * 1024
_BOM = b"\xef\xbb\xbf"


class SseLimitError(ValueError):
    """A line or an event exceeded its size limit."""


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched event."""

    event: str
    data: str
    id: str | None


class SseParser:
    """Turns the bytes of an ``text/event-stream`` body into :class:`SseEvent` objects."""

    def __init__(self, max_line: int = MAX_LINE_BYTES, max_event: int = MAX_EVENT_BYTES) -> None:
        """Set the limits (bytes) of one line and of one event's data."""
        self.max_line = max_line
        self.max_event = max_event
        self.last_event_id: str | None = None
        self.retry_ms: int | None = None
        self._buffer = bytearray()
        self._started = False
        self._skip_lf = False
        self._event = ""
        self._data: list[str] = []
        self._data_size = 0

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Consume ``chunk``; return the events it completed.

        Raises :class:`SseLimitError` when a line or an event grows past its limit.
        """
        buffer = self._buffer
        buffer += chunk
        if not self._started:
            if len(buffer) < len(_BOM) and _BOM.startswith(bytes(buffer)):
                return []
            if buffer.startswith(_BOM):
                del buffer[: len(_BOM)]
            self._started = True
        events: list[SseEvent] = []
        start = 0
        size = len(buffer)
        while start < size:
            if self._skip_lf:
                self._skip_lf = False
                if buffer[start] == 0x0A:
                    start += 1
                    continue
            cr = buffer.find(b"\r", start)
            lf = buffer.find(b"\n", start)
            if cr < 0 and lf < 0:
                break
            end = lf if cr < 0 else cr if lf < 0 else min(cr, lf)
            if end - start > self.max_line:
                raise SseLimitError(f"line longer than {self.max_line} bytes")
            line = bytes(buffer[start:end])
            start = end + 1
            if buffer[end] == 0x0D:
                if start < size:
                    if buffer[start] == 0x0A:
                        start += 1
                else:
                    self._skip_lf = True
            if (event := self._line(line)) is not None:
                events.append(event)
        del buffer[:start]
        if len(buffer) > self.max_line:
            raise SseLimitError(f"line longer than {self.max_line} bytes")
        return events

    def _line(self, raw: bytes) -> SseEvent | None:
        if not raw:
            return self._dispatch()
        if raw[0] == 0x3A:  # ":" comment
            return None
        line = raw.decode("utf-8", errors="replace")
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data_size += len(raw) + 1
            if self._data_size > self.max_event:
                raise SseLimitError(f"event larger than {self.max_event} bytes")
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        event, data = self._event, self._data
        self._event, self._data, self._data_size = "", [], 0
        if not data:
            return None
        return SseEvent(event=event or "message", data="\n".join(data), id=self.last_event_id)
