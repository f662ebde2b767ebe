"""Typed model of a W3C Web of Things Thing Description (TD 1.0 / 1.1) and the WebThings dialect.

Hand-written because no maintained Python library parses TDs into a typed model for a
consumer: the W3C tooling (the TD playground, node-wot's td-tools) is JavaScript, and the Python
Scripting-API runtimes (wotpy and forks) bring a whole servient rather than a parser.
URI templates (RFC 6570) are expanded with the ``uritemplate`` library.

Rules followed (W3C WoT Thing Description 1.1, sections 5.3, 6.3 and 8.3):

- ``href`` values are resolved against ``base`` (RFC 3986), or against the URL the TD was
  fetched from when there is no ``base``; relative ``base`` values are resolved the same way;
- a form without ``op`` gets the default for its affordance; a form with several ``op`` values
  is split into one form per operation; methods default to GET for reads, PUT for writes and
  POST for invokeaction (Table 32), and there is no default for observe/subscribe;
- ``contentType`` defaults to ``application/json``;
- security: ``securityDefinitions`` and ``security`` (string or array), combo ``oneOf``/``allOf``,
  and form-level ``security`` that replaces the Thing-level one.

Quirks of real TDs that are tolerated rather than rejected (see docs in the reference):
free-text units (kept verbatim, normalised by :mod:`.units`), multi-op forms that still carry a
method, ``properties`` given as an array (2017-2018 plugfest TDs), the ``enums`` typo, numbers
given as numeric strings, a ``type`` given as an array, a missing ``security`` (treated as
nosec), and the WebThings dialect (``links`` instead of ``forms``, ``{"name": value}`` bodies,
an action queue, and event schemas at the top level instead of under ``data``).

An affordance that cannot work (e.g. a form whose href has an unsupported scheme) is skipped
and reported in :attr:`ThingDescription.skipped` with its JSON path, so one broken property does
not cost the rest of the Thing. A TD whose every affordance is broken is rejected.

Limits against hostile TDs, checked before anything is built from the document: at most
:data:`MAX_AFFORDANCES` properties, actions and events together (a 1 MiB TD of empty
properties would otherwise become some 85,000 objects, or 21,000 entities), and JSON nested at
most :data:`MAX_TD_DEPTH` levels (so that recursive walks of the document, such as Home
Assistant's redaction of diagnostics, cannot exhaust the stack). :func:`clip_depth` bounds other
decoded JSON (values read from a Thing) the same way where it is walked (diagnostics).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
import contextlib
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
import functools
import hashlib
import json
import math
from types import MappingProxyType
from typing import Any, Literal, TypeVar

from uritemplate import URITemplate
from yarl import URL

from .errors import WotLimitError, WotValidationError
from .modbus.binding import (
    DEFAULT_READ_LIMITS,
    DEFAULT_VOCABULARY,
    ModbusForm,
    ReadLimits,
    Vocabulary,
    modbus_url,
    parse_modbus_form,
    read_limits,
    vocabulary_of,
)

MAX_TD_BYTES = 1024 * 1024
# Properties, actions and events of one Thing, together. The largest TD of the shared corpus
# (an OpenFlexure microscope) has 40, ECHONET's air conditioner 27: 256 leaves room for big
# gateways while keeping a Thing to a few hundred entities (and its parsing to a few MB).
MAX_AFFORDANCES = 256
# JSON nesting of a whole TD. Real TDs nest 15 levels at most; MAX_SCHEMA_DEPTH object
# schemas take about 70. Far below Python's recursion limit (1000) and orjson's (255), which
# recursive walkers of the document (redaction, serialisation) run into.
MAX_TD_DEPTH = 100
DEPTH_MARKER = "<nested too deep>"
# Longest manufacturer, model, serial number or version kept from a TD (the device registry
# shows them; a hostile TD could make them megabytes long).
MAX_METADATA_LENGTH = 100
ALLOWED_SCHEMES = frozenset({"http", "https", "ws", "wss"})
DEFAULT_CONTENT_TYPE = "application/json"
# Security schemes of TD 1.1 (section 5.3.3) and of the 2018-2019 drafts (public, cert, pop).
KNOWN_SCHEMES = frozenset(
    {
        "nosec",
        "auto",
        "basic",
        "digest",
        "apikey",
        "bearer",
        "psk",
        "oauth2",
        "public",
        "cert",
        "pop",
    }
)
MAX_SCHEMA_DEPTH = 32

_T = TypeVar("_T")
JSONObject = Mapping[str, Any]
Dialect = Literal["td", "webthings"]
# The one empty mapping of every parsed TD's absent members (no uriVariables, no actions ...):
# a directory keeps thousands of TDs, and an empty dict each would be thousands of objects
# for the garbage collector to walk.
NOTHING: Mapping[str, Any] = MappingProxyType({})

PROPERTY_OPS = ("readproperty", "writeproperty", "observeproperty", "unobserveproperty")
ACTION_OPS = ("invokeaction", "queryaction", "cancelaction")
EVENT_OPS = ("subscribeevent", "unsubscribeevent")
THING_OPS = (
    "readallproperties",
    "writeallproperties",
    "readmultipleproperties",
    "writemultipleproperties",
    "observeallproperties",
    "unobserveallproperties",
    "queryallactions",
    "subscribeallevents",
    "unsubscribeallevents",
)
DEFAULT_METHODS: dict[str, str] = {
    "readproperty": "GET",
    "readallproperties": "GET",
    "readmultipleproperties": "GET",
    "writeproperty": "PUT",
    "writeallproperties": "PUT",
    "writemultipleproperties": "PUT",
    "invokeaction": "POST",
    "queryaction": "GET",
    "queryallactions": "GET",
    "cancelaction": "DELETE",
}


class CompactJSON(Mapping[str, Any]):
    """A decoded JSON object kept as its compact text, decoded afresh whenever it is read.

    What a parsed TD keeps of its document (diagnostics and a few rare look-ups read it): as
    dicts and lists it would be dozens of objects per Thing, each walked by every full garbage
    collection of Home Assistant's heap, and several times the memory. Reads are rare, and
    each gets a fresh copy, which nobody can change for the others.
    """

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        """Keep ``text``, the compact JSON of an object."""
        self._text = text

    @classmethod
    def of(cls, value: Mapping[str, Any]) -> Mapping[str, Any]:
        """``value`` kept as compact JSON; ``value`` itself if JSON cannot give it back as it is.

        A document decoded from JSON always can; one built in Python (tuples, numbers as keys,
        NaN) is kept as given rather than changed.
        """
        try:
            text = json.dumps(value, separators=(",", ":"))
            same = json.loads(text) == value
        except (TypeError, ValueError, RecursionError):  # fmt: skip
            return value
        return cls(text) if same else value

    def _decoded(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self._text)
        return value

    def __getitem__(self, key: str) -> Any:
        """The member ``key`` (decoded)."""
        return self._decoded()[key]

    def __iter__(self) -> Iterator[str]:
        """The member names."""
        return iter(self._decoded())

    def __len__(self) -> int:
        """How many members."""
        return len(self._decoded())

    def __contains__(self, key: object) -> bool:
        """Whether there is a member ``key``."""
        return key in self._decoded()

    def keys(self) -> KeysView[str]:
        """The member names (one decoding)."""
        return self._decoded().keys()

    def items(self) -> ItemsView[str, Any]:
        """The members (one decoding)."""
        return self._decoded().items()

    def values(self) -> ValuesView[Any]:
        """The member values (one decoding)."""
        return self._decoded().values()

    def __repr__(self) -> str:
        """The text, shortened."""
        return f"CompactJSON({self._text[:80]!r}{'...' if len(self._text) > 80 else ''})"


@dataclass(frozen=True, slots=True)
class DataSchema:
    """A WoT data schema (a JSON Schema subset, TD 1.1 section 5.3.2)."""

    type: str | None = None
    title: str | None = None
    description: str | None = None
    unit: str | None = None
    enum: tuple[Any, ...] | None = None
    const: Any = None
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    multiple_of: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    format: str | None = None
    read_only: bool = False
    write_only: bool = False
    properties: Mapping[str, DataSchema] = NOTHING
    required: tuple[str, ...] = ()
    items: DataSchema | None = None
    one_of: tuple[DataSchema, ...] = ()
    semantic_types: tuple[str, ...] = ()

    @property
    def is_numeric(self) -> bool:
        """True for ``number`` and ``integer`` schemas."""
        return self.type in ("number", "integer")


@dataclass(frozen=True, slots=True)
class Form:
    """One operation on an affordance: where to send it and how.

    ``href`` is kept as written (it may be an RFC 6570 template); :meth:`target` expands it
    and resolves it against ``base``.
    """

    op: str
    href: str
    base: URL | None = None
    content_type: str = DEFAULT_CONTENT_TYPE
    method: str | None = None
    subprotocol: str | None = None
    security: tuple[str, ...] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    modbus: ModbusForm | None = None
    """The Modbus register description, for a form of the Modbus binding (else None)."""

    @property
    def is_template(self) -> bool:
        """True when ``href`` contains URI-template expressions."""
        return "{" in self.href

    def target(self, variables: Mapping[str, Any] | None = None) -> URL:
        """The absolute URL of this form, with URI variables expanded."""
        href = self.href
        if self.is_template:
            values = {k: _template_value(v) for k, v in (variables or {}).items()}
            try:
                href = URITemplate(href).expand(values)
            except (ValueError, TypeError) as err:
                raise WotValidationError("href", f"cannot expand {href!r}: {err}") from err
        return _resolve(href, self.base)


@dataclass(frozen=True, slots=True)
class SecurityScheme:
    """One entry of ``securityDefinitions``."""

    scheme: str
    name: str | None = None
    location: str | None = None  # the TD's "in"
    one_of: tuple[str, ...] = ()
    all_of: tuple[str, ...] = ()
    proxy: str | None = None
    format: str | None = None
    alg: str | None = None
    flow: str | None = None
    token: str | None = None
    authorization: str | None = None


@dataclass(frozen=True, slots=True)
class InteractionAffordance:
    """Members shared by properties, actions and events."""

    name: str
    forms: tuple[Form, ...]
    title: str | None = None
    description: str | None = None
    semantic_types: tuple[str, ...] = ()
    uri_variables: Mapping[str, DataSchema] = NOTHING

    def form_for(self, op: str) -> Form | None:
        """The first form offering ``op``."""
        return next((form for form in self.forms if form.op == op), None)

    def forms_for(self, op: str) -> tuple[Form, ...]:
        """Every form offering ``op`` (the consumer may pick any that works)."""
        return tuple(form for form in self.forms if form.op == op)

    @property
    def label(self) -> str:
        """What to call the affordance: its title, else its name."""
        return self.title or self.name


@dataclass(frozen=True, slots=True)
class PropertyAffordance(InteractionAffordance):
    """A property: a data schema plus forms."""

    schema: DataSchema = field(default_factory=DataSchema)
    observable: bool = False

    @property
    def readable(self) -> bool:
        """Whether the property can be read."""
        return self.form_for("readproperty") is not None

    @property
    def writable(self) -> bool:
        """Whether the property can be written."""
        return self.form_for("writeproperty") is not None

    @property
    def observable_form(self) -> Form | None:
        """The form to observe the property with, if any (whatever the ``observable`` flag says)."""
        return self.form_for("observeproperty")


@dataclass(frozen=True, slots=True)
class ActionAffordance(InteractionAffordance):
    """An action."""

    input: DataSchema | None = None
    output: DataSchema | None = None
    safe: bool = False
    idempotent: bool = False
    synchronous: bool | None = None


@dataclass(frozen=True, slots=True)
class EventAffordance(InteractionAffordance):
    """An event."""

    data: DataSchema | None = None
    subscription: DataSchema | None = None


@dataclass(frozen=True, slots=True)
class ThingDescription:
    """A parsed Thing Description."""

    title: str
    id: str | None = None
    description: str | None = None
    base: URL | None = None
    source_url: URL | None = None
    semantic_types: tuple[str, ...] = ()
    properties: Mapping[str, PropertyAffordance] = NOTHING
    actions: Mapping[str, ActionAffordance] = NOTHING
    events: Mapping[str, EventAffordance] = NOTHING
    forms: tuple[Form, ...] = ()
    security_definitions: Mapping[str, SecurityScheme] = NOTHING
    security: tuple[str, ...] = ()
    uri_variables: Mapping[str, DataSchema] = NOTHING
    dialect: Dialect = "td"
    websocket: URL | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    sw_version: str | None = None
    hw_version: str | None = None
    support: str | None = None
    skipped: tuple[WotValidationError, ...] = ()
    #: The document as it was decoded (kept as compact JSON text by :func:`parse_td`, see
    #: :class:`CompactJSON`; a mapping either way).
    raw: JSONObject = field(default=NOTHING, repr=False, compare=False)
    #: How a Modbus Thing's registers may be read together (``tbm:maxSpan``/``tbm:maxGap``).
    modbus_limits: ReadLimits = DEFAULT_READ_LIMITS

    def form_for(self, op: str) -> Form | None:
        """The first Thing-level form offering ``op``."""
        return next((form for form in self.forms if form.op == op), None)

    @property
    def schemes(self) -> tuple[str, ...]:
        """The security schemes in force at Thing level, combos expanded (``nosec`` if none)."""
        names = _expand_security(self.security, self.security_definitions)
        return tuple(self.security_definitions[n].scheme for n in names) or ("nosec",)

    @property
    def requires_credentials(self) -> bool:
        """True when no way to talk to the Thing works without credentials.

        A ``combo`` ``oneOf`` needs none when one of its branches needs none; an ``allOf``
        needs some when any of its parts does.
        """
        if not self.security:
            return False
        return not any(
            _works_without_credentials(n, self.security_definitions) for n in self.security
        )


# --------------------------------------------------------------------------------------------
# helpers


def _template_value(value: Any) -> Any:
    # uritemplate expands falsy values (0, 0.0) as empty: give it strings.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


# The Modbus vocabulary prefixes of the TD being parsed (from its @context), and the data
# schema type of the affordance whose forms are being parsed (a Modbus form's value type
# falls back to it). Context variables so that the form parsers keep their signatures.
_VOCABULARY: ContextVar[Vocabulary] = ContextVar("_VOCABULARY", default=DEFAULT_VOCABULARY)
_SCHEMA_TYPE: ContextVar[str | None] = ContextVar("_SCHEMA_TYPE", default=None)


def _resolve(href: str, base: URL | None, path: str = "href") -> URL:
    try:
        url = URL(href)
    except (TypeError, ValueError) as err:
        raise WotValidationError(path, f"invalid URI reference {href!r}") from err
    if not url.is_absolute():
        if base is None:
            raise WotValidationError(
                path, f"relative href {href!r} and no base to resolve it against"
            )
        if base.scheme not in ALLOWED_SCHEMES:
            # A base for another protocol (coap, mqtt, modbus ...) cannot serve this href.
            raise WotValidationError(
                path, f"unsupported URI scheme {base.scheme!r} (of the base {str(base)!r})"
            )
        try:
            url = base.join(url)
        except ValueError as err:
            raise WotValidationError(path, f"cannot resolve {href!r} against {base}") from err
    if url.scheme not in ALLOWED_SCHEMES:
        raise WotValidationError(path, f"unsupported URI scheme {url.scheme!r}")
    if not url.host:
        raise WotValidationError(path, f"{href!r} has no host")
    return url


def _resolve_base(raw_base: str, source: URL | None) -> URL:
    """The Thing's ``base``, resolved against ``source`` if relative.

    A base for a protocol ThingBridge does not speak (``coaps://``, ``modbus+tcp://``) is kept:
    the forms that use it are skipped with a named reason, and absolute HTTP hrefs still work.
    """
    try:
        url = URL(raw_base)
    except (TypeError, ValueError) as err:
        raise WotValidationError("$.base", f"invalid URI reference {raw_base!r}") from err
    if url.is_absolute() and url.scheme not in ALLOWED_SCHEMES:
        return url
    return _resolve(raw_base, source, "$.base")


def _opt_str(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise WotValidationError(path, f"expected a string, got {type(value).__name__}")


def _multilang(raw: JSONObject, key: str, path: str) -> str | None:
    """``title``, else the English (or first) entry of ``titles``."""
    value = _opt_str(raw.get(key), f"{path}.{key}")
    if value is not None:
        return value
    multi = raw.get(f"{key}s")
    if isinstance(multi, dict) and multi:
        chosen = multi.get("en", next(iter(multi.values())))
        return chosen if isinstance(chosen, str) else None
    return None


def _opt_number(value: Any, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise WotValidationError(path, "expected a number, got bool")
    number: float | None = None
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if number is None:
        raise WotValidationError(path, f"expected a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise WotValidationError(path, f"expected a finite number, got {value!r}")
    return number


def _opt_int(value: Any, path: str) -> int | None:
    number = _opt_number(value, path)
    return None if number is None else int(number)


def _str_list(value: Any, path: str) -> tuple[str, ...]:
    """A string or an array of strings (``@type``, ``op``, ``security``)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise WotValidationError(path, "expected a string or an array of strings")


def _semantic_types(value: Any) -> tuple[str, ...]:
    """``@type``: a string or an array of them; JSON-LD node objects give their ``@id``.

    An annotation never costs an affordance: values of other shapes are ignored (OneDM TDs of
    the 2021 plugfests give ``[{"@id": ..., "contentType": ...}]``).
    """
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        term = item.get("@id") if isinstance(item, dict) else item
        if isinstance(term, str) and term:
            out.append(term)
    return tuple(out)


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _works_without_credentials(
    name: str, definitions: Mapping[str, SecurityScheme], depth: int = 0
) -> bool:
    scheme = definitions.get(name)
    if scheme is None or depth > 8:
        return False
    if scheme.scheme != "combo":
        return scheme.scheme in ("nosec", "auto")
    if scheme.all_of:
        return all(_works_without_credentials(n, definitions, depth + 1) for n in scheme.all_of)
    return any(_works_without_credentials(n, definitions, depth + 1) for n in scheme.one_of)


def _expand_security(
    names: Iterable[str], definitions: Mapping[str, SecurityScheme], depth: int = 0
) -> tuple[str, ...]:
    """Expand combo ``allOf`` (AND) and take the first workable ``oneOf`` branch (OR)."""
    out: list[str] = []
    for name in names:
        scheme = definitions.get(name)
        if scheme is None or depth > 8:
            continue
        if scheme.scheme == "combo":
            if scheme.all_of:
                out += _expand_security(scheme.all_of, definitions, depth + 1)
            elif scheme.one_of:
                out += _expand_security(scheme.one_of[:1], definitions, depth + 1)
        else:
            out.append(name)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# data schemas


def parse_schema(raw: Any, path: str, depth: int = 0) -> DataSchema:
    """Parse a data schema (or the data-schema members of a property affordance)."""
    if not isinstance(raw, dict):
        raise WotValidationError(path, "expected an object")
    if depth > MAX_SCHEMA_DEPTH:
        raise WotValidationError(path, f"schema nested deeper than {MAX_SCHEMA_DEPTH} levels")
    # Legacy TDs put the schema under "valueType".
    if "type" not in raw and isinstance(raw.get("valueType"), dict):
        raw = {**raw["valueType"], **{k: v for k, v in raw.items() if k != "valueType"}}

    type_ = raw.get("type")
    if isinstance(type_, list):
        type_ = next((t for t in type_ if isinstance(t, str) and t != "null"), None)
    type_ = _opt_str(type_, f"{path}.type")

    enum_raw = raw.get("enum", raw.get("enums"))
    if enum_raw is not None and not isinstance(enum_raw, list):
        raise WotValidationError(f"{path}.enum", "expected an array")

    props_raw = raw.get("properties")
    properties: dict[str, DataSchema] = {}
    if isinstance(props_raw, dict) and type_ in ("object", None):
        for key, sub in props_raw.items():
            if isinstance(sub, dict):
                properties[key] = parse_schema(sub, f"{path}.properties.{key}", depth + 1)

    items_raw = raw.get("items")
    items = None
    if isinstance(items_raw, dict):
        items = parse_schema(items_raw, f"{path}.items", depth + 1)
    elif isinstance(items_raw, list) and items_raw and isinstance(items_raw[0], dict):
        items = parse_schema(items_raw[0], f"{path}.items[0]", depth + 1)

    one_of_raw = raw.get("oneOf")
    one_of: tuple[DataSchema, ...] = ()
    if isinstance(one_of_raw, list):
        one_of = tuple(
            parse_schema(sub, f"{path}.oneOf[{i}]", depth + 1)
            for i, sub in enumerate(one_of_raw)
            if isinstance(sub, dict)
        )

    required = raw.get("required")
    schema = DataSchema(
        type=type_,
        title=_multilang(raw, "title", path),
        description=_multilang(raw, "description", path),
        unit=_opt_str(raw.get("unit"), f"{path}.unit"),
        enum=tuple(enum_raw) if enum_raw is not None else None,
        const=raw.get("const"),
        default=raw.get("default"),
        minimum=_opt_number(raw.get("minimum", raw.get("exclusiveMinimum")), f"{path}.minimum"),
        maximum=_opt_number(raw.get("maximum", raw.get("exclusiveMaximum")), f"{path}.maximum"),
        multiple_of=_opt_number(raw.get("multipleOf"), f"{path}.multipleOf"),
        min_length=_opt_int(raw.get("minLength"), f"{path}.minLength"),
        max_length=_opt_int(raw.get("maxLength"), f"{path}.maxLength"),
        format=_opt_str(raw.get("format"), f"{path}.format"),
        # "readonly" and "writeable" are misspellings of 2018-2019 plugfest TDs.
        read_only=_bool(raw.get("readOnly", raw.get("readonly")))
        or raw.get("writable", raw.get("writeable")) is False,
        write_only=_bool(raw.get("writeOnly", raw.get("writeonly"))),
        properties=properties or NOTHING,
        required=tuple(r for r in required if isinstance(r, str))
        if isinstance(required, list)
        else (),
        items=items,
        one_of=one_of,
        semantic_types=_semantic_types(raw.get("@type")),
    )
    return _lift_one_of(schema) if type_ is None and one_of else schema


def _is_sentinel(schema: DataSchema) -> bool:
    """A ``oneOf`` branch that only names special values (``null``, ``"unmeasurable"``)."""
    return schema.type == "null" or (
        schema.type == "string" and (schema.enum is not None or schema.const is not None)
    )


def _lift_one_of(schema: DataSchema) -> DataSchema:
    """Give an untyped ``oneOf`` schema the type of its one real branch.

    ECHONET TDs write a measured value as ``oneOf: [{number, unit}, {string, enum: [
    "unmeasurable"]}]``: that is a number (the other values read as unknown). The ``oneOf``
    is kept, so validation still accepts every branch.
    """
    real = [branch for branch in schema.one_of if not _is_sentinel(branch)]
    if len(real) != 1 or real[0].type not in ("number", "integer", "boolean", "string"):
        return schema
    branch = real[0]
    return replace(
        schema,
        type=branch.type,
        unit=schema.unit or branch.unit,
        minimum=schema.minimum if schema.minimum is not None else branch.minimum,
        maximum=schema.maximum if schema.maximum is not None else branch.maximum,
        multiple_of=schema.multiple_of or branch.multiple_of,
        min_length=schema.min_length if schema.min_length is not None else branch.min_length,
        max_length=schema.max_length if schema.max_length is not None else branch.max_length,
        enum=schema.enum if schema.enum is not None else branch.enum,
    )


def _uri_variables(raw: Any, path: str) -> Mapping[str, DataSchema]:
    if raw is None:
        return NOTHING
    if not isinstance(raw, dict):
        raise WotValidationError(path, "expected an object")
    return {
        name: parse_schema(schema, f"{path}.{name}")
        for name, schema in raw.items()
        if isinstance(schema, dict)
    } or NOTHING


# --------------------------------------------------------------------------------------------
# forms


def _headers(raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list):
        return ()
    out = []
    for item in raw:
        if isinstance(item, dict):
            name, value = item.get("htv:fieldName"), item.get("htv:fieldValue")
            if isinstance(name, str) and isinstance(value, str):
                out.append((name, value))
    return tuple(out)


# The standard member first, then spellings real TDs use (2018-2020 plugfests: the ``http``
# prefix for the same vocabulary, ``mediaType`` of the TD drafts).
_METHOD_KEYS = ("htv:methodName", "http:methodName", "htv:method", "http:method")
_CONTENT_TYPE_KEYS = ("contentType", "mediaType", "contenttype")
_OPS_BY_LOWER = {op.lower(): op for op in (*PROPERTY_OPS, *ACTION_OPS, *EVENT_OPS, *THING_OPS)}


def _first_str(item: JSONObject, fpath: str, *keys: str) -> str | None:
    """The first of ``keys`` the form has, as a string."""
    for key in keys:
        if item.get(key) is not None:
            return _opt_str(item[key], f"{fpath}.{key}")
    return None


def _form_ops(item: JSONObject, fpath: str) -> tuple[str, ...]:
    """A form's ``op`` values, normalised.

    Tolerated: camelCase values (``readProperty``, TD drafts) and, when there is no ``op``,
    the 2018 drafts' ``rel`` naming the operation (``"rel": "observeProperty"``). An unknown
    value is kept as written, so the form is left out only when it offers nothing known.
    """
    key = "op" if "op" in item else "rel"
    values = _str_list(item.get(key), f"{fpath}.{key}")
    ops = tuple(_OPS_BY_LOWER.get(_term_of(v), v) for v in values)
    if key == "rel":
        return tuple(op for op in ops if op in _OPS_BY_LOWER.values())
    return ops


def _term_of(value: str) -> str:
    """``td:invokeAction`` -> ``invokeaction``."""
    return value.rsplit(":", 1)[-1].strip().lower()


def _method_for(op: str, declared: str | None, ops: tuple[str, ...]) -> str | None:
    """The method of ``op`` in a form declaring ``ops`` and maybe ``declared``.

    A multi-op form must not carry a method (TD 1.1 section 8.3.1), but real ones do; the
    declared method is then kept only for the operations it can mean.
    """
    default = DEFAULT_METHODS.get(op)
    if declared is None:
        return default
    declared = declared.upper()
    if len(ops) == 1 or default is None or default == declared:
        return declared
    return default


def _parse_form(
    item: Any,
    base: URL | None,
    default_ops: tuple[str, ...],
    fpath: str,
    allowed_ops: tuple[str, ...] | None,
) -> list[Form]:
    if not isinstance(item, dict):
        raise WotValidationError(fpath, "expected an object")
    href = item.get("href")
    if not isinstance(href, str):
        raise WotValidationError(f"{fpath}.href", "missing or not a string")
    # An empty href is the same-document reference: the base itself (RFC 3986 section 5.2).
    href = href.strip()
    # A template is checked with its variables left empty.
    try:
        checked = URITemplate(href).expand({}) if "{" in href else href
    except (ValueError, TypeError) as err:
        raise WotValidationError(f"{fpath}.href", f"invalid URI template {href!r}") from err
    modbus: ModbusForm | None = None
    if (url := modbus_url(checked, base)) is not None:
        modbus = parse_modbus_form(
            item, url, fpath=fpath, schema_type=_SCHEMA_TYPE.get(), vocabulary=_VOCABULARY.get()
        )
    else:
        _resolve(checked, base, f"{fpath}.href")
    ops = _form_ops(item, fpath) or default_ops
    if modbus is not None and not modbus.writable_table:
        # Input registers and discrete inputs cannot be written: a form that defaults to
        # read and write (no readOnly) reads only.
        ops = tuple(op for op in ops if not op.startswith(("write", "invoke")))
        if not ops:
            raise WotValidationError(f"{fpath}.op", f"a {modbus.entity} cannot be written")
    declared = _first_str(item, fpath, *_METHOD_KEYS)
    security = item.get("security")
    content_type = _first_str(item, fpath, *_CONTENT_TYPE_KEYS) or DEFAULT_CONTENT_TYPE
    subprotocol = _first_str(item, fpath, "subprotocol", "subProtocol")
    names = _security_names(security, f"{fpath}.security") if security is not None else None
    headers = _headers(item.get("htv:headers"))
    # One Form per operation, built directly (dataclasses.replace of a prototype costs
    # several times as much, for each of the thousands of forms of a directory).
    return [
        Form(
            op=op,
            href=href,
            base=base,
            content_type=content_type,
            method=_method_for(op, declared, ops),
            subprotocol=subprotocol,
            security=names,
            headers=headers,
            modbus=modbus,
        )
        for op in ops
        if allowed_ops is None or op in allowed_ops
    ]


def parse_forms(
    raw: Any,
    base: URL | None,
    default_ops: tuple[str, ...],
    path: str,
    allowed_ops: tuple[str, ...] | None = None,
) -> tuple[Form, ...]:
    """Parse a ``forms`` array: one :class:`Form` per operation, hrefs checked.

    A broken form is dropped when another one works; with none left the first error is raised.
    """
    if not isinstance(raw, list) or not raw:
        raise WotValidationError(path, "expected a non-empty array of forms")
    forms: list[Form] = []
    errors: list[WotValidationError] = []
    for index, item in enumerate(raw):
        try:
            forms += _parse_form(item, base, default_ops, f"{path}[{index}]", allowed_ops)
        except WotValidationError as err:
            errors.append(err)
    if not forms:
        if errors:
            raise errors[0]
        raise WotValidationError(path, "no form offers an operation this affordance supports")
    return tuple(forms)


def _links_as_forms(
    raw: Any, base: URL | None, default_ops: tuple[str, ...], path: str
) -> tuple[Form, ...]:
    """WebThings dialect: ``links`` (rel property/action/event, or none) become forms."""
    if not isinstance(raw, list):
        raise WotValidationError(path, "expected an array of links")
    usable = [
        {"href": link.get("href")}
        for link in raw
        if isinstance(link, dict) and link.get("rel") in (None, "property", "action", "event")
    ]
    return parse_forms(usable, base, default_ops, path)


# --------------------------------------------------------------------------------------------
# affordances


def _affordance_common(raw: JSONObject, name: str, path: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": _multilang(raw, "title", path),
        "description": _multilang(raw, "description", path),
        "semantic_types": _semantic_types(raw.get("@type")),
        "uri_variables": _uri_variables(raw.get("uriVariables"), f"{path}.uriVariables"),
    }


def _forms_of(
    raw: JSONObject,
    base: URL | None,
    default_ops: tuple[str, ...],
    path: str,
    allowed: tuple[str, ...],
) -> tuple[tuple[Form, ...], bool]:
    """The affordance's forms, and whether they came from WebThings ``links``."""
    if "forms" in raw:
        return parse_forms(raw["forms"], base, default_ops, f"{path}.forms", allowed), False
    if "links" in raw:
        return _links_as_forms(raw["links"], base, default_ops, f"{path}.links"), True
    # 2017-2018 drafts: "form" (single) or "hrefs".
    if isinstance(raw.get("form"), dict):
        return parse_forms([raw["form"]], base, default_ops, f"{path}.form", allowed), False
    if isinstance(raw.get("hrefs"), list):
        legacy = [{"href": h} for h in raw["hrefs"]]
        return parse_forms(legacy, base, default_ops, f"{path}.hrefs", allowed), False
    raise WotValidationError(f"{path}.forms", "missing")


def _property_default_ops(schema: DataSchema) -> tuple[str, ...]:
    if schema.read_only:
        return ("readproperty",)
    if schema.write_only:
        return ("writeproperty",)
    return ("readproperty", "writeproperty")


def _parse_property(
    raw: Any, name: str, base: URL | None, path: str
) -> tuple[PropertyAffordance, bool]:
    if not isinstance(raw, dict):
        raise WotValidationError(path, "expected an object")
    schema = parse_schema(raw, path)
    token = _SCHEMA_TYPE.set(schema.type)
    try:
        forms, from_links = _forms_of(raw, base, _property_default_ops(schema), path, PROPERTY_OPS)
    finally:
        _SCHEMA_TYPE.reset(token)
    prop = PropertyAffordance(
        **_affordance_common(raw, name, path),
        forms=forms,
        schema=schema,
        observable=_bool(raw.get("observable")),
    )
    return prop, from_links


def _opt_schema(raw: JSONObject, key: str, path: str) -> DataSchema | None:
    value = raw.get(key)
    if value is None:
        return None
    return parse_schema(value, f"{path}.{key}")


def _parse_action(
    raw: Any, name: str, base: URL | None, path: str
) -> tuple[ActionAffordance, bool]:
    if not isinstance(raw, dict):
        raise WotValidationError(path, "expected an object")
    forms, from_links = _forms_of(raw, base, ("invokeaction",), path, ACTION_OPS)
    sync = raw.get("synchronous")
    action = ActionAffordance(
        **_affordance_common(raw, name, path),
        forms=forms,
        input=_opt_schema(raw, "input", path),
        output=_opt_schema(raw, "output", path),
        safe=_bool(raw.get("safe")),
        idempotent=_bool(raw.get("idempotent")),
        synchronous=sync if isinstance(sync, bool) else None,
    )
    return action, from_links


def _parse_event(raw: Any, name: str, base: URL | None, path: str) -> tuple[EventAffordance, bool]:
    if not isinstance(raw, dict):
        raise WotValidationError(path, "expected an object")
    forms, from_links = _forms_of(
        raw, base, ("subscribeevent", "unsubscribeevent"), path, EVENT_OPS
    )
    data = _opt_schema(raw, "data", path)
    if data is None and ("type" in raw or "unit" in raw):
        # WebThings events carry their schema at the top level.
        data = parse_schema(
            {k: v for k, v in raw.items() if k not in ("forms", "links", "@type")}, path
        )
    event = EventAffordance(
        **_affordance_common(raw, name, path),
        forms=forms,
        data=data,
        subscription=_opt_schema(raw, "subscription", path),
    )
    return event, from_links


def _named_members(raw: Any, path: str) -> dict[str, Any]:
    """``properties``/``actions``/``events`` as a name -> object map (arrays tolerated)."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(k): v for k, v in raw.items()}
    if isinstance(raw, list):
        out: dict[str, Any] = {}
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                raise WotValidationError(f"{path}[{index}]", "expected an object")
            name = item.get("name") or item.get("id") or item.get("title")
            if not isinstance(name, str):
                raise WotValidationError(f"{path}[{index}].name", "missing")
            out[name] = item
        return out
    raise WotValidationError(path, "expected an object")


# --------------------------------------------------------------------------------------------
# security


def _scheme_name(item: JSONObject) -> str | None:
    """A definition's ``scheme`` (2019 plugfest TDs misspell the member ``schema``)."""
    scheme = item.get("scheme", item.get("schema"))
    return scheme.lower() if isinstance(scheme, str) and scheme.strip() else None


def _inline_name(item: JSONObject) -> str:
    """The name an inline security object (TD drafts of 2018-2019) is defined under."""
    scheme = _scheme_name(item) or "unknown"
    if set(item) <= {"scheme", "schema"}:
        return f"{scheme}_inline"
    try:
        text = json.dumps(item, sort_keys=True, default=str)
    except (TypeError, ValueError):  # fmt: skip
        # keys that are not strings: not from JSON, but possible
        text = repr(item)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{scheme}_inline_{digest[:8]}"


def _security_names(value: Any, path: str) -> tuple[str, ...]:
    """A ``security`` member: a name, an array of names, or inline scheme objects (drafts)."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):
            names.append(_inline_name(item))
        else:
            raise WotValidationError(path, "expected a string or an array of strings")
    return tuple(names)


def _security_uses(raw: JSONObject) -> tuple[dict[str, JSONObject], set[str]]:
    """The inline security objects, and every name, that Thing- and form-level ``security`` use."""
    inline: dict[str, JSONObject] = {}
    names: set[str] = set()

    def note(value: Any) -> None:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                names.add(item)
            elif isinstance(item, dict) and _scheme_name(item):
                inline.setdefault(_inline_name(item), item)

    def note_forms(forms: Any) -> None:
        for form in forms if isinstance(forms, list) else [forms]:
            if isinstance(form, dict) and "security" in form:
                note(form["security"])

    note(raw.get("security"))
    note_forms(raw.get("forms"))
    for member in ("properties", "actions", "events"):
        group = raw.get(member)
        items = group.values() if isinstance(group, dict) else group
        for item in items if isinstance(items, Iterable) else ():
            if isinstance(item, dict):
                note_forms(item.get("forms", item.get("form")))
    return inline, names


def _security_scheme(item: Any, spath: str) -> SecurityScheme:
    if not isinstance(item, dict):
        raise WotValidationError(spath, "expected an object")
    scheme = _scheme_name(item)
    if scheme is None:
        raise WotValidationError(f"{spath}.scheme", "missing or not a string")
    return SecurityScheme(
        scheme=scheme,
        name=_opt_str(item.get("name"), f"{spath}.name"),
        location=_opt_str(item.get("in"), f"{spath}.in"),
        one_of=_str_list(item.get("oneOf"), f"{spath}.oneOf"),
        all_of=_str_list(item.get("allOf"), f"{spath}.allOf"),
        proxy=_opt_str(item.get("proxy"), f"{spath}.proxy"),
        format=_opt_str(item.get("format"), f"{spath}.format"),
        alg=_opt_str(item.get("alg"), f"{spath}.alg"),
        flow=_opt_str(item.get("flow"), f"{spath}.flow"),
        token=_opt_str(item.get("token"), f"{spath}.token"),
        authorization=_opt_str(item.get("authorization"), f"{spath}.authorization"),
    )


def _parse_security(raw: JSONObject) -> tuple[dict[str, SecurityScheme], tuple[str, ...]]:
    """``securityDefinitions`` and the Thing-level ``security``, with draft-era quirks mended.

    Tolerated: inline scheme objects in ``security`` (``[{"scheme": "basic"}]``, TD drafts of
    2018-2019), which are defined under a generated name, and names that are not defined but
    are themselves a scheme (``"security": ["basic"]``), which stand for that scheme.
    """
    defs_raw = raw.get("securityDefinitions")
    definitions: dict[str, SecurityScheme] = {}
    if defs_raw is not None:
        if not isinstance(defs_raw, dict):
            raise WotValidationError("$.securityDefinitions", "expected an object")
        for name, item in defs_raw.items():
            definitions[name] = _security_scheme(item, f"$.securityDefinitions.{name}")
    inline, used = _security_uses(raw)
    for name, item in inline.items():
        if name not in definitions:
            definitions[name] = _security_scheme(item, "$.security")
    for name in used:
        if name not in definitions and name.lower() in KNOWN_SCHEMES:
            definitions[name] = SecurityScheme(scheme=name.lower())
    security = _security_names(raw.get("security"), "$.security")
    for name in security:
        if name not in definitions:
            raise WotValidationError("$.security", f"undefined security definition {name!r}")
    for name, scheme in definitions.items():
        for member in (*scheme.one_of, *scheme.all_of):
            if member not in definitions:
                raise WotValidationError(
                    f"$.securityDefinitions.{name}", f"combo names undefined definition {member!r}"
                )
    return definitions, security


# --------------------------------------------------------------------------------------------
# the Thing


def _websocket_link(raw: JSONObject, base: URL | None) -> URL | None:
    links = raw.get("links")
    if not isinstance(links, list):
        return None
    for link in links:
        if not isinstance(link, dict) or link.get("rel") != "alternate":
            continue
        href = link.get("href")
        if isinstance(href, str) and href.startswith(("ws://", "wss://")):
            try:
                return _resolve(href, base)
            except WotValidationError:
                return None
    return None


def _properties_link(raw: JSONObject, base: URL | None) -> Form | None:
    """The Web Thing API's Thing-level ``rel: properties`` link as a ``readallproperties`` form."""
    links = raw.get("links")
    for link in links if isinstance(links, list) else ():
        href = link.get("href") if isinstance(link, dict) else None
        if isinstance(href, str) and link.get("rel") == "properties":
            return Form(op="readallproperties", href=href, base=base, method="GET")
    return None


SCHEMA_ORG = (
    "https://schema.org/",
    "http://schema.org/",
    "https://schema.org",
    "http://schema.org",
)


def _schema_prefixes(raw: JSONObject) -> tuple[str, ...]:
    """The prefixes the TD's ``@context`` binds to schema.org (``schema`` and ``s`` always)."""
    prefixes = ["schema", "s"]
    context = raw.get("@context")
    for item in context if isinstance(context, list) else [context]:
        if isinstance(item, dict):
            prefixes += [
                key
                for key, value in item.items()
                if isinstance(value, str) and value in SCHEMA_ORG and key not in prefixes
            ]
    return tuple(prefixes)


@functools.lru_cache(maxsize=64)
def _metadata_keys(
    prefixes: tuple[str, ...], terms: tuple[str, ...], plain: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The keys naming ``terms`` (then ``plain``), and the members of an object value naming it.

    Cached: the Things of a directory bind the same prefixes.
    """
    keys = [f"{prefix}:{term}" for term in terms for prefix in prefixes]
    keys += [f"{iri}{term}" for term in terms for iri in SCHEMA_ORG[:2]]
    # Members of an object value that name it: {"name": "ACME"}, {"schema:name": ...}, ...
    names = ("name", *(f"{prefix}:name" for prefix in prefixes), "@value", "@id", "instance")
    return (*keys, *plain), names


def _metadata(raw: JSONObject, *terms: str, plain: tuple[str, ...] = ()) -> str | None:
    """A Thing's metadata text: a schema.org ``term`` (any prefix or IRI) or a ``plain`` key.

    The value may be a string or an object naming it (``{"name": "ACME"}``).
    """
    keys, names = _metadata_keys(_schema_prefixes(raw), terms, plain)
    for key in keys:
        value = raw.get(key)
        if isinstance(value, dict):
            value = next((value[k] for k in names if isinstance(value.get(k), str)), None)
        if isinstance(value, str) and value.strip():
            return value.strip()[:MAX_METADATA_LENGTH]
    return None


def _check_read_limits(limits: ReadLimits, properties: Mapping[str, PropertyAffordance]) -> None:
    """A ``tbm:maxSpan`` narrower than one of the Thing's values cannot be planned: refused."""
    for name, prop in properties.items():
        for form in prop.forms:
            if form.modbus is not None and form.modbus.quantity > limits.max_span:
                raise WotValidationError(
                    "$.tbm:maxSpan",
                    f"{limits.max_span} registers a read cannot hold property {name!r} "
                    f"({form.modbus.quantity} registers)",
                )


def _software_version(raw: JSONObject) -> str | None:
    """The device's firmware: schema.org ``softwareVersion``, else ``version.instance``.

    Not the instance of a TD generated from a Thing Model (``version.model``): that is the
    model's version (a profile's), not the device's firmware.
    """
    if (found := _metadata(raw, "softwareVersion")) is not None:
        return found
    version = raw.get("version")
    if isinstance(version, dict) and "model" in version:
        return None
    return _metadata(raw, plain=("version",))


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether JSON ``value`` nests more than ``limit`` levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def clip_depth(value: Any, max_depth: int = MAX_TD_DEPTH, marker: str = DEPTH_MARKER) -> Any:
    """A copy of JSON ``value`` with what nests deeper than ``max_depth`` levels cut off.

    Objects and arrays below that depth are replaced by ``marker``, so that code walking the
    copy recursively (diagnostics) is safe; the copy itself recurses at most ``max_depth``
    levels, whatever the input.
    """
    if not isinstance(value, Mapping | list | tuple):
        return value
    if max_depth <= 0:
        return marker
    if isinstance(value, Mapping):
        return {key: clip_depth(item, max_depth - 1, marker) for key, item in value.items()}
    return [clip_depth(item, max_depth - 1, marker) for item in value]


def _check_limits(raw: JSONObject) -> None:
    """Refuse a TD over :data:`MAX_AFFORDANCES` or :data:`MAX_TD_DEPTH`, before parsing it."""
    count = sum(
        len(group)
        for group in (raw.get("properties"), raw.get("actions"), raw.get("events"))
        if isinstance(group, dict | list)
    )
    if count > MAX_AFFORDANCES:
        raise WotLimitError(
            "$",
            f"{count} properties, actions and events; at most {MAX_AFFORDANCES} are supported",
            count=count,
            limit=MAX_AFFORDANCES,
        )
    if _nested_deeper_than(raw, MAX_TD_DEPTH):
        raise WotLimitError(
            "$", f"JSON nested deeper than {MAX_TD_DEPTH} levels", limit=MAX_TD_DEPTH
        )


def parse_td(raw: Any, source_url: str | URL | None = None) -> ThingDescription:
    """Parse a decoded TD document.

    ``source_url`` is where the TD came from; relative hrefs (and a relative ``base``) resolve
    against it. Raises :class:`WotValidationError` naming the member that is wrong, and its
    subclass :class:`WotLimitError` for a TD over :data:`MAX_AFFORDANCES` or
    :data:`MAX_TD_DEPTH`.
    """
    if not isinstance(raw, dict):
        raise WotValidationError("$", "a Thing Description must be a JSON object")
    _check_limits(raw)
    title = _multilang(raw, "title", "$") or _opt_str(raw.get("name"), "$.name")
    if title is None or not title.strip():
        raise WotValidationError("$.title", "missing or empty")

    source = URL(str(source_url)) if source_url is not None else None
    base: URL | None = source
    if (raw_base := _opt_str(raw.get("base"), "$.base")) is not None and raw_base.strip():
        base = _resolve_base(raw_base.strip(), source)

    definitions, security = _parse_security(raw)
    skipped: list[WotValidationError] = []
    vocabulary = _VOCABULARY.set(vocabulary_of(raw.get("@context")))
    try:
        return _parse_members(
            raw,
            title=title.strip(),
            base=base,
            source=source,
            definitions=definitions,
            security=security,
            skipped=skipped,
        )
    finally:
        _VOCABULARY.reset(vocabulary)


def _parse_members(
    raw: JSONObject,
    *,
    title: str,
    base: URL | None,
    source: URL | None,
    definitions: dict[str, SecurityScheme],
    security: tuple[str, ...],
    skipped: list[WotValidationError],
) -> ThingDescription:
    """The affordances and the rest of a TD whose head :func:`parse_td` has checked."""
    from_links = False

    def collect(
        member: str,
        parser: Any,
    ) -> Mapping[str, _T]:
        nonlocal from_links
        out: dict[str, _T] = {}
        for name, item in _named_members(raw.get(member), f"$.{member}").items():
            try:
                affordance, links = parser(item, name, base, f"$.{member}.{name}")
            except WotValidationError as err:
                skipped.append(err)
                continue
            from_links = from_links or links
            out[name] = affordance
        return out or NOTHING

    properties: Mapping[str, PropertyAffordance] = collect("properties", _parse_property)
    actions: Mapping[str, ActionAffordance] = collect("actions", _parse_action)
    events: Mapping[str, EventAffordance] = collect("events", _parse_event)
    if not (properties or actions or events):
        if skipped:
            raise skipped[0]
        # Valid TD, but nothing a consumer can read, write, invoke or subscribe to.
        raise WotValidationError("$", "no properties, actions or events to interact with")

    forms: tuple[Form, ...] = ()
    if raw.get("forms") is not None:
        try:
            forms = parse_forms(raw["forms"], base, (), "$.forms", THING_OPS)
        except WotValidationError as err:
            skipped.append(err)

    # The WebThings dialect is told apart by its links: its bodies are {"name": value}.
    dialect: Dialect = "webthings" if from_links else "td"
    if dialect == "webthings" and not any(f.op == "readallproperties" for f in forms):
        link = _properties_link(raw, base)  # read once here, not from the document each poll
        forms = forms if link is None else (*forms, link)
    limits = DEFAULT_READ_LIMITS
    if any(form.modbus is not None for prop in properties.values() for form in prop.forms):
        limits = read_limits(raw, _VOCABULARY.get())
        _check_read_limits(limits, properties)

    return ThingDescription(
        title=title,
        id=_opt_str(raw.get("id"), "$.id"),
        description=_multilang(raw, "description", "$"),
        base=base,
        source_url=source,
        semantic_types=_semantic_types(raw.get("@type")),
        properties=properties,
        actions=actions,
        events=events,
        forms=forms,
        security_definitions=definitions,
        security=security,
        uri_variables=_uri_variables(raw.get("uriVariables"), "$.uriVariables"),
        dialect=dialect,
        websocket=_websocket_link(raw, base),
        manufacturer=_metadata(raw, "manufacturer", "brand", plain=("manufacturer",)),
        model=_metadata(raw, "model", "mpn", plain=("model", "productName")),
        serial_number=_metadata(raw, "serialNumber", plain=("serialNumber",)),
        sw_version=_software_version(raw),
        hw_version=_metadata(raw, "hardwareVersion", plain=("hardwareVersion",)),
        support=raw["support"] if isinstance(raw.get("support"), str) else None,
        skipped=tuple(skipped),
        raw=CompactJSON.of(raw),
        modbus_limits=limits,
    )
