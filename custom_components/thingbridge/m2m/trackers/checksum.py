"""CRC-16 variants used by the tracker protocols.

Written by hand: two 16-bit table-driven CRCs are a few lines, and the standard library
has neither reflected variant (``binascii.crc_hqx`` is the non-reflected XMODEM one), so
a dependency would cost more than it saves.

- :func:`crc16_ibm` — CRC-16/ARC ("IBM"): poly 0x8005 reflected, init 0, no xorout
  (Teltonika). Check value for ``b"123456789"``: 0xBB3D.
- :func:`crc16_x25` — CRC-16/X-25 ("CRC-ITU"): poly 0x1021 reflected, init 0xFFFF,
  xorout 0xFFFF (GT06/Concox). Check value for ``b"123456789"``: 0x906E.
"""

from __future__ import annotations


def _table(poly_reflected: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly_reflected if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_IBM = _table(0xA001)
_X25 = _table(0x8408)


def crc16_ibm(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/IBM (ARC) of ``data``."""
    crc = 0
    for byte in bytes(data):
        crc = (crc >> 8) ^ _IBM[(crc ^ byte) & 0xFF]
    return crc


def crc16_x25(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/X-25 (CRC-ITU) of ``data``."""
    crc = 0xFFFF
    for byte in bytes(data):
        crc = (crc >> 8) ^ _X25[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF
