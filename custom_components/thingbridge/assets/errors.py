"""The one error root of the assets library.

Every error the library raises on purpose derives from :class:`AssetsError`. Each carries a
stable ``code`` (snake_case, for the glue's translation keys) and ``placeholders`` (the
values the message names), besides an English message for logs and the command line:

- :class:`GeofenceError`: a geofence polygon could not be parsed or is not valid;
- :class:`TrackError`: a track file (CSV or GPX) or a fix is not usable;
- :class:`StateError`: a serialised state could not be read back;
- :class:`MaintenanceError`: a maintenance plan or completion is not valid;
- :class:`CustodyError`: a custody transition is not allowed, or a tag is not valid.
"""

from __future__ import annotations


class AssetsError(ValueError):
    """Base class of every error of the assets library.

    Attributes:
        code: A stable snake_case name of the problem (``"too_many_vertices"``).
        placeholders: The values the message names, as strings, for a translated message.
    """

    def __init__(self, message: str, *, code: str, **placeholders: object) -> None:
        """An error with its English ``message``, ``code`` and named values."""
        super().__init__(message)
        self.code = code
        self.placeholders = {key: str(value) for key, value in placeholders.items()}


class GeofenceError(AssetsError):
    """A geofence polygon could not be parsed or is not valid."""


class TrackError(AssetsError):
    """A track file or a fix is not usable."""


class StateError(AssetsError):
    """A serialised state could not be read back."""


class MaintenanceError(AssetsError):
    """A maintenance plan, reading or completion is not valid."""


class CustodyError(AssetsError):
    """A custody transition is not allowed in the asset's status, or a tag is not valid."""
