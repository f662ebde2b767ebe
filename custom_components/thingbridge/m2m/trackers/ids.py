"""What a device ID may look like, per protocol: the one place the decoders check it.

A device identifies itself only by this ID, and the gateway shows unknown IDs to the user,
logs them and keys its state by them, so an ID must look like one a real device sends:

========== ==================== ===============================================
protocol   pattern              what devices send
========== ==================== ===============================================
teltonika  15 digits            the IMEI
gt06       15-16 digits         the IMEI from the 8-byte BCD terminal ID (the
                                leading ``0`` dropped, 16 digits when it is not
                                ``0``)
tk103      11-15 digits         the 12-digit ID, the 11-digit one of some
                                models, or the 15-digit IMEI
coban      15 digits            the IMEI
h02        10-15 digits         the 10-digit ID (5 BCD bytes in binary frames)
                                or the 15-digit IMEI
osmand     1-64 of              the Traccar Client's identifier (by default a
           ``A-Z a-z 0-9 . _ :  number; users may type names)
           -``
traccar    1-64 of              a Traccar device's ``uniqueId`` in positions a
           ``A-Z a-z 0-9 . _ :  Traccar server forwards (normally the IMEI)
           @ + -``
========== ==================== ===============================================

A frame whose ID does not match is a protocol error (:class:`.errors.FieldError` on the
field ``device id``), never an unknown device: it gets no reply, raises no discovery and
the error message shows the ID only escaped (``repr``).
"""

from __future__ import annotations

import re

from .errors import FieldError

DEVICE_ID_PATTERNS: dict[str, re.Pattern[str]] = {
    "teltonika": re.compile(r"[0-9]{15}"),
    "gt06": re.compile(r"[0-9]{15,16}"),
    "tk103": re.compile(r"[0-9]{11,15}"),
    "coban": re.compile(r"[0-9]{15}"),
    "h02": re.compile(r"[0-9]{10,15}"),
    "osmand": re.compile(r"[A-Za-z0-9._:-]{1,64}"),
    "traccar": re.compile(r"[A-Za-z0-9._:@+-]{1,64}"),
}
"""The device IDs each protocol accepts (matched in full, ASCII only)."""


def valid_device_id(protocol: str, device_id: str) -> bool:
    """Whether ``device_id`` is a well-formed ID for ``protocol`` (see the module table)."""
    pattern = DEVICE_ID_PATTERNS.get(protocol)
    return pattern is not None and pattern.fullmatch(device_id) is not None


def check_device_id(protocol: str, device_id: str, raw: bytes = b"") -> str:
    """Return ``device_id`` when it is well-formed for ``protocol``.

    Raises:
        FieldError: On the field ``device id``, naming the expected form; the ID is
            quoted with ``repr`` and cut to 80 characters.
    """
    if valid_device_id(protocol, device_id):
        return device_id
    pattern = DEVICE_ID_PATTERNS.get(protocol)
    expected = pattern.pattern if pattern is not None else "a known protocol"
    raise FieldError(
        "device id", device_id, f"not a valid {protocol} device ID (expected {expected})",
        protocol=protocol, raw=raw,
    )  # fmt: skip
