"""Web of Things consumer library used by ThingBridge.

Pure asyncio/aiohttp code with no Home Assistant imports: it parses W3C Web of Things
Thing Descriptions and talks to the Things they describe over HTTP, on a caller-provided
:class:`aiohttp.ClientSession`.
"""

from .client import (
    ActionResult,
    Credentials,
    WotClient,
    fetch_json,
    fetch_thing_description,
)
from .errors import (
    WotAuthError,
    WotConnectionError,
    WotError,
    WotLimitError,
    WotResponseError,
    WotTimeoutError,
    WotValidationError,
)
from .td import DataSchema, Form, PropertyAffordance, ThingDescription, parse_td
from .watch import Watcher

__all__ = [
    "ActionResult",
    "Credentials",
    "DataSchema",
    "Form",
    "PropertyAffordance",
    "ThingDescription",
    "Watcher",
    "WotAuthError",
    "WotClient",
    "WotConnectionError",
    "WotError",
    "WotLimitError",
    "WotResponseError",
    "WotTimeoutError",
    "WotValidationError",
    "fetch_json",
    "fetch_thing_description",
    "parse_td",
]
