"""JSON-ready dictionaries of frames, messages and errors (CLI output, journals).

Datetimes become ISO 8601 strings, bytes become lowercase hex.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
import math
from typing import Any

from .errors import ChecksumError, FieldError, GarbageError, ProtocolError, UnsupportedMessage
from .model import AnyMessage, Frame

_MESSAGE_TYPES = {
    "Position": "position",
    "Heartbeat": "heartbeat",
    "StatusReport": "status",
    "Alarm": "alarm",
    "Login": "login",
    "CommandResponse": "command_response",
}


def _plain(value: object) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def message_to_dict(message: AnyMessage) -> dict[str, Any]:
    """A message's fields, with ``"message"`` naming its type."""
    out: dict[str, Any] = {
        "message": _MESSAGE_TYPES.get(type(message).__name__, type(message).__name__)
    }
    for item in fields(message):
        if item.name == "raw":
            continue
        out[item.name] = _plain(getattr(message, item.name))
    return out


def frame_to_dict(frame: Frame) -> dict[str, Any]:
    """A frame with its messages and replies (hex)."""
    return {
        "type": "frame",
        "protocol": frame.protocol,
        "kind": frame.kind,
        "device_id": frame.device_id,
        "checksum_ok": frame.checksum_ok,
        "reply": _plain(frame.reply),
        "reject_reply": _plain(frame.reject_reply),
        "messages": [message_to_dict(m) for m in frame.messages],
        "raw": frame.raw.hex(),
    }


def error_to_dict(error: ProtocolError) -> dict[str, Any]:
    """An error with its class name, message and the details its class carries."""
    out: dict[str, Any] = {
        "type": "error",
        "error": type(error).__name__,
        "protocol": error.protocol,
        "message": error.reason,
        "device_id": error.device_id,
        "raw": error.raw.hex(),
    }
    if isinstance(error, ChecksumError):
        out["expected"] = f"0x{error.expected:04X}"
        out["actual"] = f"0x{error.actual:04X}"
    if isinstance(error, FieldError):
        out["field"] = error.field
    if isinstance(error, GarbageError):
        out["skipped"] = error.skipped
    if isinstance(error, UnsupportedMessage):
        out["message_type"] = error.message_type
        out["reply"] = _plain(error.reply)
    return out


def item_to_dict(item: Frame | ProtocolError) -> dict[str, Any]:
    """Either of the above."""
    return frame_to_dict(item) if isinstance(item, Frame) else error_to_dict(item)
