"""Errors raised by the Web of Things library."""

from __future__ import annotations


class WotError(Exception):
    """Base class of every error this library raises."""


class WotValidationError(WotError):
    """A Thing Description (or part of one) cannot be used.

    ``path`` is the JSON path of the offending member, e.g. ``$.properties.temp.forms[0].href``.
    """

    def __init__(self, path: str, reason: str) -> None:
        """Name the member and what is wrong with it."""
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class WotValueError(WotValidationError):
    """A value given to write or send does not fit its schema or its register.

    Raised before anything is sent: the caller's mistake, not the Thing's.
    """


class WotLimitError(WotValidationError):
    """A Thing Description (or part of one) exceeds one of the library's limits.

    ``limit`` is the limit; ``count`` how many there were, when that was counted.
    """

    def __init__(self, path: str, reason: str, *, limit: int, count: int | None = None) -> None:
        """Name the member, what is wrong, the limit and the count."""
        super().__init__(path, reason)
        self.limit = limit
        self.count = count


class WotConnectionError(WotError):
    """The Thing could not be reached (connection refused, timeout, TLS failure)."""


class WotTimeoutError(WotConnectionError):
    """The Thing did not answer in time."""


class WotResponseError(WotError):
    """The Thing answered, but not with something usable (HTTP error, bad body, too large)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        """Keep the HTTP status when there is one."""
        super().__init__(message)
        self.status = status


class WotAuthError(WotResponseError):
    """The Thing refused the credentials (HTTP 401/403) or needs some that were not given."""
