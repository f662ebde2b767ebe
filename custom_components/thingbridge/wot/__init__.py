"""Web of Things consumer library used by ThingBridge.

Pure asyncio/aiohttp code with no Home Assistant imports: it parses W3C Web of Things
Thing Descriptions and talks to the Things they describe over HTTP, on a caller-provided
:class:`aiohttp.ClientSession`.
"""

from .client import WotClient, fetch_thing_description
from .errors import (
    WotAuthError,
    WotConnectionError,
    WotError,
    WotResponseError,
    WotValidationError,
)
from .td import DataSchema, Form, PropertyAffordance, ThingDescription, parse_td

__all__ = [
    "DataSchema",
    "Form",
    "PropertyAffordance",
    "ThingDescription",
    "WotAuthError",
    "WotClient",
    "WotConnectionError",
    "WotError",
    "WotResponseError",
    "WotValidationError",
    "fetch_thing_description",
    "parse_td",
]
