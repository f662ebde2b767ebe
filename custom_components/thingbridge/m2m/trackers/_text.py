"""Framing shared by the text protocols (TK103, Coban/GPS103, H02)."""

from __future__ import annotations

from .errors import FrameError, IncompleteFrameError
from .stream import DEFAULT_MAX_BUFFER, Item, Step, StreamDecoder

WHITESPACE = frozenset(b" \t\r\n\x00")


class TextDecoder(StreamDecoder):
    """A stream decoder for ASCII frames with a start marker and a terminator.

    Subclasses set :attr:`starts` (bytes that may begin a frame) and implement
    :meth:`_frame_end` and :meth:`_decode_frame`. Whitespace between frames is skipped
    silently (and :attr:`separators`); other bytes before a frame start are reported as
    garbage. A frame with no terminator within ``max_frame`` bytes is reported and skipped.
    """

    starts: bytes = b""
    separators: frozenset[int] = WHITESPACE

    def __init__(
        self, *, lenient: bool = False, max_buffer: int = DEFAULT_MAX_BUFFER, max_frame: int = 1024
    ) -> None:
        """Bound a single frame to ``max_frame`` bytes (Traccar uses 1 KiB for text)."""
        super().__init__(lenient=lenient, max_buffer=max_buffer)
        self.max_frame = min(max_frame, max_buffer)

    def _frame_end(self, buf: bytes, pos: int) -> int | None:
        """Index just past the frame starting at ``pos``, or None when incomplete.

        Implementations search at most ``max_frame`` bytes.
        """
        raise NotImplementedError

    def _decode_frame(self, raw: bytes) -> Item | None:
        """Decode one complete frame."""
        raise NotImplementedError

    def _decode_unterminated(self, raw: bytes) -> Item | None:
        """Decode a datagram's last frame that lacks its terminator, or ``None``.

        A UDP datagram carries whole messages, and Traccar decodes text datagrams without
        a frame decoder, so some devices leave the terminator out there. Subclasses whose
        format survives that override this; by default the tail is reported incomplete.
        """
        return None

    def decode_datagram(self, data: bytes | bytearray | memoryview) -> list[Item]:
        """Decode one datagram; an unterminated last frame is decoded when it can be."""
        self.reset()
        items = self.feed(data)
        rest, self._buffer = self._buffer, b""
        if not rest:
            return items
        item = self._decode_unterminated(rest) if rest[0] in self.starts else None
        if item is None:
            item = IncompleteFrameError(
                f"input ended inside a frame ({len(rest)} bytes)", protocol=self.protocol, raw=rest
            )
        items.append(item)
        return items

    def _next_start(self, buf: bytes, pos: int) -> int:
        hits = [h for h in (buf.find(bytes((c,)), pos) for c in self.starts) if h >= 0]
        return min(hits) if hits else len(buf)

    def _step(self, buf: bytes, pos: int) -> Step | None:
        if buf[pos] in self.separators:
            end = pos
            while end < len(buf) and buf[end] in self.separators:
                end += 1
            return end, None
        if buf[pos] not in self.starts:
            end = self._next_start(buf, pos + 1)
            # whitespace right before the next frame is not garbage
            trim = end
            while trim > pos + 1 and buf[trim - 1] in self.separators:
                trim -= 1
            return trim, self._garbage(buf, pos, trim)[1]
        frame_end = self._frame_end(buf, pos)
        if frame_end is None:
            if len(buf) - pos > self.max_frame:
                nxt = self._next_start(buf, pos + 1)
                return nxt, FrameError(
                    f"no frame terminator within {self.max_frame} bytes",
                    protocol=self.protocol,
                    raw=buf[pos:nxt],
                )
            return None
        end = frame_end
        return end, self._decode_frame(buf[pos:end])
