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
from .discovery import MAX_THINGS, ExploreResult, explore, is_directory, service_from_zeroconf
from .errors import (
    WotAuthError,
    WotConnectionError,
    WotError,
    WotLimitError,
    WotResponseError,
    WotTimeoutError,
    WotValidationError,
)
from .mapping import (
    BINARY_SENSOR,
    BUTTON,
    CLIMATE,
    COVER,
    EVENT,
    FAN,
    LIGHT,
    LOCK,
    NUMBER,
    SELECT,
    SENSOR,
    SWITCH,
    TEXT,
    EntitySpec,
    ServiceSpec,
    ThingPlan,
    device_model,
    map_thing,
    plan_thing,
)
from .modbus import (
    TBM_NAMESPACE,
    ModbusForm,
    ModbusLink,
    is_modbus_scheme,
    parse_modbus_form,
)
from .modbus.client import (
    ModbusThingClient,
    ReadResult,
    check_write,
    open_unit,
    thing_endpoint,
)
from .security import safe_url
from .td import DataSchema, Form, PropertyAffordance, ThingDescription, clip_depth, parse_td
from .thing_model import (
    SHIPPED_PROFILES,
    ProfileLibrary,
    ThingModel,
    ThingModelError,
    instantiate,
    load_thing_model,
    placeholders,
)
from .units import canonical_unit
from .validation import schema_error
from .watch import Watcher

__all__ = [
    "BINARY_SENSOR",
    "BUTTON",
    "CLIMATE",
    "COVER",
    "EVENT",
    "FAN",
    "LIGHT",
    "LOCK",
    "MAX_THINGS",
    "NUMBER",
    "SELECT",
    "SENSOR",
    "SHIPPED_PROFILES",
    "SWITCH",
    "TBM_NAMESPACE",
    "TEXT",
    "ActionResult",
    "Credentials",
    "DataSchema",
    "EntitySpec",
    "ExploreResult",
    "Form",
    "ModbusForm",
    "ModbusLink",
    "ModbusThingClient",
    "ProfileLibrary",
    "PropertyAffordance",
    "ReadResult",
    "ServiceSpec",
    "ThingDescription",
    "ThingModel",
    "ThingModelError",
    "ThingPlan",
    "Watcher",
    "WotAuthError",
    "WotClient",
    "WotConnectionError",
    "WotError",
    "WotLimitError",
    "WotResponseError",
    "WotTimeoutError",
    "WotValidationError",
    "canonical_unit",
    "check_write",
    "clip_depth",
    "device_model",
    "explore",
    "fetch_json",
    "fetch_thing_description",
    "instantiate",
    "is_directory",
    "is_modbus_scheme",
    "load_thing_model",
    "map_thing",
    "open_unit",
    "parse_modbus_form",
    "parse_td",
    "placeholders",
    "plan_thing",
    "safe_url",
    "schema_error",
    "service_from_zeroconf",
    "thing_endpoint",
]
