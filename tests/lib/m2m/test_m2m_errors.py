"""The M2M library's one error root: a caller catches every library failure in one place."""

from __future__ import annotations

import pytest

from custom_components.thingbridge.m2m import (
    GatewayError,
    JournalError,
    M2MError,
    ProtocolError,
)
from custom_components.thingbridge.m2m.trackers import ChecksumError, FieldError


@pytest.mark.parametrize(
    "error",
    [
        GatewayError("gt06", "TCP", 5023, "address in use"),
        JournalError("append", "/tmp/j.db", "disk full"),
        ProtocolError("bad frame", protocol="h02"),
        FieldError("device id", "x", "not a valid gt06 device ID", protocol="gt06"),
        ChecksumError(1, 2, protocol="teltonika"),
    ],
)
def test_every_library_error_is_an_m2m_error(error: Exception) -> None:
    with pytest.raises(M2MError):
        raise error


def test_errors_keep_their_attributes() -> None:
    gateway = GatewayError("gt06", "TCP", 5023, "address in use")
    assert (gateway.protocol, gateway.transport, gateway.port) == ("gt06", "TCP", 5023)
    assert str(gateway) == "cannot listen for gt06 on TCP port 5023: address in use"
    journal = JournalError("append", "/tmp/j.db", "disk full")
    assert (journal.operation, journal.path, journal.reason) == ("append", "/tmp/j.db", "disk full")
    decoder = ProtocolError("bad frame", protocol="h02", raw=b"x" * 2000, device_id="1")
    assert (decoder.protocol, decoder.device_id, len(decoder.raw)) == ("h02", "1", 1024)
    assert not issubclass(M2MError, (ValueError, OSError))  # callers' own catches are unaffected
