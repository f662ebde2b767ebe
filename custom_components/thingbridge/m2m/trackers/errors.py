"""The typed errors of the tracker decoders.

Every decoder reports problems with the input only through :class:`ProtocolError`
subclasses: stream decoders *return* them as items of :meth:`feed` (so one bad frame
never ends a good connection), the one-shot parsers (OsmAnd, UDP datagrams) *raise*
them.  Nothing else escapes a decoder, whatever the bytes.
"""

from __future__ import annotations

from ..errors import M2MError  # noqa: TID252 - relative, so the library can be used on its own

_RAW_LIMIT = 1024


def _short_hex(raw: bytes, limit: int = 32) -> str:
    """Render at most ``limit`` bytes as hex for a message."""
    text = raw[:limit].hex()
    return text + "…" if len(raw) > limit else text


def printable(text: str) -> str:
    """``text`` with control and other non-printable characters backslash-escaped.

    Error reasons may quote what a device sent (a message type, a field); escaped, they
    are one log line whatever the device put in them.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ProtocolError(M2MError):
    """Base class of everything a decoder reports about its input.

    Attributes:
        protocol: The protocol name (``"teltonika"``, ``"gt06"``, …).
        raw: The offending bytes (capped at 1 KiB) for journaling.
        device_id: The device the data came from, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        protocol: str = "",
        raw: bytes = b"",
        device_id: str | None = None,
    ) -> None:
        """Describe what is wrong; keep the protocol and the offending bytes."""
        message = printable(message)
        super().__init__(f"{protocol}: {message}" if protocol else message)
        self.reason = message
        self.protocol = protocol
        self.raw = bytes(raw[:_RAW_LIMIT])
        self.device_id = device_id


class FrameError(ProtocolError):
    """A frame is malformed: bad length, bad terminator, truncated or unparseable content."""


class FieldError(FrameError):
    """One field of an otherwise well-framed message has an invalid value.

    Attributes:
        field: The name of the field (``"latitude"``, ``"timestamp"``, …).
        value: The offending value as text.
    """

    def __init__(
        self,
        field: str,
        value: object,
        reason: str,
        *,
        protocol: str = "",
        raw: bytes = b"",
        device_id: str | None = None,
    ) -> None:
        """Name the field, its value and what is wrong with it."""
        text = repr(value) if not isinstance(value, bytes) else value.hex()
        super().__init__(
            f"field {field}={text[:80]}: {reason}",
            protocol=protocol,
            raw=raw,
            device_id=device_id,
        )
        self.field = field
        self.value = text


class MissingFieldError(FieldError):
    """A required field is absent (e.g. the OsmAnd ``id``)."""

    def __init__(
        self, field: str, *, protocol: str = "", raw: bytes = b"", device_id: str | None = None
    ) -> None:
        """Name the missing field."""
        super().__init__(
            field, None, "is required", protocol=protocol, raw=raw, device_id=device_id
        )
        self.reason = f"field {field} is required"
        self.args = (f"{protocol}: {self.reason}" if protocol else self.reason,)


class GarbageError(FrameError):
    """Bytes that cannot start a frame were skipped while resynchronising.

    Attributes:
        skipped: How many bytes were dropped.
    """

    def __init__(self, skipped: bytes, *, protocol: str = "") -> None:
        """Report the skipped bytes."""
        super().__init__(
            f"skipped {len(skipped)} byte(s) of garbage: {_short_hex(skipped)}",
            protocol=protocol,
            raw=skipped,
        )
        self.skipped = len(skipped)


class IncompleteFrameError(FrameError):
    """The input ended inside a frame (a datagram or a CLI input was cut short)."""


class ChecksumError(ProtocolError):
    """The frame's checksum does not match its content.

    Attributes:
        expected: The checksum computed over the received content.
        actual: The checksum the frame carries.
    """

    def __init__(
        self,
        expected: int,
        actual: int,
        *,
        protocol: str = "",
        raw: bytes = b"",
        device_id: str | None = None,
    ) -> None:
        """Keep both checksums."""
        super().__init__(
            f"checksum mismatch: computed 0x{expected:04X}, frame carries 0x{actual:04X}",
            protocol=protocol,
            raw=raw,
            device_id=device_id,
        )
        self.expected = expected
        self.actual = actual


class BufferOverflowError(ProtocolError):
    """Unparsed data passed the decoder's buffer bound; the buffer was discarded.

    Attributes:
        limit: The bound in bytes.
        size: How many unparsed bytes there were.
    """

    def __init__(self, limit: int, size: int, *, protocol: str = "", raw: bytes = b"") -> None:
        """Keep the bound and the size."""
        super().__init__(
            f"{size} unparsed bytes exceed the {limit}-byte buffer bound; buffer discarded",
            protocol=protocol,
            raw=raw,
        )
        self.limit = limit
        self.size = size


class NotIdentifiedError(ProtocolError):
    """Data arrived on a connection before the device identified itself (no login yet)."""


class UnsupportedMessage(ProtocolError):  # noqa: N818 - named after what it reports
    """A well-formed message of a type this library does not decode.

    Attributes:
        message_type: The protocol's name or number for the type (``"0x8C"``, ``"V3"``).
        reply: The bytes the device expects in answer (``None`` when it expects none);
            sending it keeps the device from retrying a message nobody can decode.
        checksum_ok: Whether the frame's checksum matched (``None`` when it has none).
    """

    def __init__(
        self,
        message_type: str,
        *,
        protocol: str = "",
        raw: bytes = b"",
        device_id: str | None = None,
        reply: bytes | None = None,
        detail: str = "",
        checksum_ok: bool | None = None,
    ) -> None:
        """Name the type and keep the expected reply."""
        suffix = f" ({detail})" if detail else ""
        super().__init__(
            f"unsupported message type {message_type}{suffix}",
            protocol=protocol,
            raw=raw,
            device_id=device_id,
        )
        self.message_type = message_type
        self.reply = reply
        self.checksum_ok = checksum_ok
