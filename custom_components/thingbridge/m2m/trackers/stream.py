"""The sans-IO streaming decoder every TCP protocol builds on.

Usage, the same in a gateway, the CLI and the tests::

    decoder = Gt06Decoder()
    for item in decoder.feed(chunk):          # any slicing of the TCP byte stream
        if isinstance(item, ProtocolError):
            log(item)                         # garbage, bad checksum, unsupported…
            if isinstance(item, UnsupportedMessage) and item.reply:
                send(item.reply)
            continue
        store(item.messages)                  # a Frame
        if item.reply:
            send(item.reply)                  # after the data is stored

:meth:`StreamDecoder.feed` never raises on any input: it returns :class:`Frame` items for
frames it decoded and :class:`ProtocolError` items for everything else, in stream order.
Bytes that cannot begin a frame are skipped up to the next plausible frame start and
reported as one :class:`GarbageError`; a frame that is complete but bad is reported and
skipped, so the connection carries on with the next frame. Unparsed bytes never stay
above ``max_buffer`` (default 32 KiB): past it the buffer is dropped and a
:class:`BufferOverflowError` is reported (a gateway will usually close the connection then).

Every loop consumes at least one byte per step, so a call is linear in its input and
cannot hang.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from .errors import (
    BufferOverflowError,
    FrameError,
    GarbageError,
    IncompleteFrameError,
    ProtocolError,
)
from .model import Frame

DEFAULT_MAX_BUFFER = 32 * 1024

Item = Frame | ProtocolError
Step = tuple[int, Item | None]
"""``(next position, item)``: the decoder consumed up to the position; item may be None."""


class StreamDecoder(ABC):
    """Base class of the per-protocol stream decoders.

    Args:
        lenient: Accept frames whose checksum does not match (they are decoded and marked
            ``checksum_ok=False``) instead of reporting a :class:`ChecksumError`.
        max_buffer: The bound on unparsed bytes kept between calls.
    """

    protocol: str = ""

    def __init__(self, *, lenient: bool = False, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        """Start with an empty buffer."""
        if max_buffer < 64:
            raise ValueError("max_buffer must be at least 64 bytes")
        self.lenient = lenient
        self.max_buffer = max_buffer
        self._buffer = b""

    @property
    def buffered(self) -> int:
        """How many unparsed bytes are waiting for the rest of their frame."""
        return len(self._buffer)

    def reset(self) -> None:
        """Drop any partial frame (e.g. after the connection was re-established)."""
        self._buffer = b""

    def feed(self, data: bytes | bytearray | memoryview) -> list[Item]:
        """Add bytes from the stream; return the frames and errors they complete."""
        buf = self._buffer + bytes(data)
        items: list[Item] = []
        pos = 0
        while pos < len(buf):
            try:
                step = self._step(buf, pos)
            except ProtocolError as err:  # a decoder bug must not kill the connection
                step = (pos + 1, err)
            if step is None:
                break
            new_pos, item = step
            if new_pos <= pos:  # defensive: guarantee progress
                new_pos = pos + 1
                item = item or FrameError("decoder made no progress", protocol=self.protocol)
            if item is not None:
                items.append(item)
            pos = new_pos
        rest = buf[pos:]
        if len(rest) > self.max_buffer:
            items.append(
                BufferOverflowError(self.max_buffer, len(rest), protocol=self.protocol, raw=rest)
            )
            rest = b""
        self._buffer = rest
        return items

    def flush(self) -> list[Item]:
        """Report a partial frame left in the buffer (end of input) and drop it."""
        if not self._buffer:
            return []
        rest, self._buffer = self._buffer, b""
        return [
            IncompleteFrameError(
                f"input ended inside a frame ({len(rest)} bytes)", protocol=self.protocol, raw=rest
            )
        ]

    def decode_datagram(self, data: bytes | bytearray | memoryview) -> list[Item]:
        """Decode one self-contained datagram (UDP): frames, then any leftover as an error."""
        self.reset()
        return self.feed(data) + self.flush()

    @abstractmethod
    def _step(self, buf: bytes, pos: int) -> Step | None:
        """Decode what starts at ``pos``; ``None`` when more bytes are needed."""

    def _garbage(self, buf: bytes, pos: int, end: int) -> Step:
        """Skip ``buf[pos:end]`` as garbage."""
        return end, GarbageError(buf[pos:end], protocol=self.protocol)
