"""The one error root of the M2M library.

Every error the library raises on purpose derives from :class:`M2MError`, so a caller can
catch the library's failures in one ``except`` and let programming errors through:

- :class:`.gateway.GatewayError`: a listener could not be started;
- :class:`.journal.JournalError`: storing or reading positions failed;
- :class:`.trackers.ProtocolError` and its subclasses: a decoder rejected its input.
"""

from __future__ import annotations


class M2MError(Exception):
    """Base class of every error of the M2M library."""
