"""Web of Things consumer library used by ThingBridge.

Pure asyncio code with no Home Assistant imports: it parses W3C Web of Things Thing
Descriptions and talks to the Things they describe over HTTP, on a caller-provided
:class:`aiohttp.ClientSession`, and over Modbus (the W3C Modbus binding plus ThingBridge's
``tbm:`` terms, :mod:`.modbus`), on a caller-provided ``modbus_connection`` unit.
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
    link_params,
    modbus_form,
    open_unit,
    thing_endpoint,
)
from .modbus.sunspec import SUNSPEC_BASES, SunSpecDevice, detect_sunspec, link_url, sunspec_td
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
    "SUNSPEC_BASES",
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
    "SunSpecDevice",
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
    "detect_sunspec",
    "device_model",
    "explore",
    "fetch_json",
    "fetch_thing_description",
    "instantiate",
    "is_directory",
    "is_modbus_scheme",
    "link_params",
    "link_url",
    "load_thing_model",
    "map_thing",
    "modbus_form",
    "open_unit",
    "parse_modbus_form",
    "parse_td",
    "placeholders",
    "plan_thing",
    "safe_url",
    "schema_error",
    "service_from_zeroconf",
    "sunspec_td",
    "thing_endpoint",
]
