"""The W3C Web of Things Modbus binding: Modbus forms parsed into typed register descriptions.

Pure parsing, no I/O and no Modbus library: :class:`ModbusForm` says *where* a value lives
(link, unit, table, address, register count) and *how* its words become a value (type, byte
and word order, scale, offset, scale-factor register, "not available" sentinels, bit field,
string encoding). :mod:`.client` executes forms with ``modbus_connection``.

Dialects accepted (see ``wot-bindings.md`` sections 1, 2 and 4 in the project's reference):

- the spec's ``modbus+tcp://host:port/unitID/address?quantity=N`` and its ``modv:`` terms
  (``entity``, ``function`` in the spec's plural and ``context.jsonld``'s singular spelling,
  by name or number, ``type`` with the xsd types, ``mostSignificantByte``,
  ``mostSignificantWord``, ``pollingTime``, ``timeout``);
- ``modbus:`` as the prefix (ECLASS PAC2200, the Siemens catalog in wot-oss) and any prefix
  the ``@context`` maps to the binding's namespace; the ``modbus://`` scheme (= TCP);
- form-level ``unitID``, ``address``, ``quantity`` and ``offset`` (= address, ECLASS) when the
  href does not carry them (``href: "/"``); values in the href win, as in node-wot;
- node-wot's ``byteSeq`` content-type parameter and DataSchema types such as ``int16``;
- ThingBridge's extension vocabulary ``tbm:`` (:data:`TBM_NAMESPACE`): ``scale``, ``offset``,
  ``scaleFactor``, ``notAvailable``, ``bitOffset``, ``bitLength``, ``stringEncoding``,
  ``framing`` and the serial line settings; ``modv:multiplier`` (UA-EdgeTranslator) is an alias
  of ``tbm:scale`` and node-wot's ``ex:bitOffset``/``ex:bitLength`` of the bit terms.

Addresses are used as written (the binding's deprecated ``zeroBasedAddressing`` is ignored, as
binding PR #479 asks): ``40001`` is register 40001, not holding register 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import math
from typing import Any, Final, Literal

from yarl import URL

from ..errors import WotValidationError

#: ThingBridge's Modbus extension vocabulary (JSON-LD context ``contexts/thingbridge-modbus.jsonld``).
TBM_NAMESPACE: Final = "https://github.com/thingbridge/thingbridge/ns/modbus#"
TBM_PREFIX: Final = "tbm"
#: The W3C binding's namespace, with and without the ``#`` the artefacts disagree on, and the
#: context document the spec's examples use.
MODV_NAMESPACES: Final = frozenset(
    {
        "https://www.w3.org/2019/wot/modbus",
        "https://www.w3.org/2019/wot/modbus#",
        "https://w3c.github.io/wot-binding-templates/bindings/protocols/modbus/context.jsonld",
    }
)

Entity = Literal["Coil", "DiscreteInput", "HoldingRegister", "InputRegister"]
Framing = Literal["tcp", "rtu-over-tcp", "rtu"]
ValueType = Literal[
    "boolean",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "string",
    "hex",
]

#: URI schemes of Modbus forms, and the framing each one means.
SCHEME_FRAMING: Final[Mapping[str, Framing]] = {
    "modbus+tcp": "tcp",
    "modbus": "tcp",
    "modbus+rtu-tcp": "rtu-over-tcp",
    "modbus+rtu": "rtu",
}
DEFAULT_PORT: Final = 502
MAX_ADDRESS: Final = 0xFFFF
#: Registers of one value: 125 is the Modbus FC03/FC04 ceiling; strings are the longest values.
MAX_QUANTITY: Final = 125
#: Coils of one value (FC01/FC02 ceiling is 2000; one property is one bit here).
MAX_TIMEOUT_MS: Final = 60_000
#: The most registers one read covers by default (FC03/FC04's ceiling) and the most unasked
#: registers (a hole) a read may cover to save a request: Home Assistant's modbus library's
#: planner defaults (its ``max_gap`` 16 is the distance from one value's last register to the
#: next one's first, a hole of 15).
DEFAULT_MAX_SPAN: Final = 125
DEFAULT_MAX_GAP: Final = 15
#: The longest ``modv:pollingTime`` taken (a day, in milliseconds).
MAX_POLLING_MS: Final = 86_400_000

# Function names (both spellings, lower-cased) and codes -> (code, entity).
_FUNCTIONS: Final[Mapping[str, tuple[int, Entity]]] = {
    "readcoil": (1, "Coil"),
    "readcoils": (1, "Coil"),
    "readdiscreteinput": (2, "DiscreteInput"),
    "readdiscreteinputs": (2, "DiscreteInput"),
    "readholdingregister": (3, "HoldingRegister"),
    "readholdingregisters": (3, "HoldingRegister"),
    "readinputregister": (4, "InputRegister"),
    "readinputregisters": (4, "InputRegister"),
    "writesinglecoil": (5, "Coil"),
    "writecoil": (5, "Coil"),
    "writesingleholdingregister": (6, "HoldingRegister"),
    "writeholdingregister": (6, "HoldingRegister"),
    "writemultiplecoils": (15, "Coil"),
    "writemultiplecoil": (15, "Coil"),
    "writemultipleholdingregisters": (16, "HoldingRegister"),
    "writemultipleholdingregister": (16, "HoldingRegister"),
}
_CODES: Final[Mapping[int, Entity]] = {
    1: "Coil",
    2: "DiscreteInput",
    3: "HoldingRegister",
    4: "InputRegister",
    5: "Coil",
    6: "HoldingRegister",
    15: "Coil",
    16: "HoldingRegister",
}
_ENTITIES: Final[Mapping[str, Entity]] = {
    "coil": "Coil",
    "coils": "Coil",
    "discreteinput": "DiscreteInput",
    "discreteinputs": "DiscreteInput",
    "holdingregister": "HoldingRegister",
    "holdingregisters": "HoldingRegister",
    "inputregister": "InputRegister",
    "inputregisters": "InputRegister",
}
# xsd types of modv:type (and the plain names real TMs write) -> (type, registers or None).
_XSD: Final[Mapping[str, tuple[ValueType, int | None]]] = {
    "boolean": ("boolean", 1),
    "byte": ("int8", 1),
    "unsignedbyte": ("uint8", 1),
    "short": ("int16", 1),
    "unsignedshort": ("uint16", 1),
    "int": ("int32", 2),
    "unsignedint": ("uint32", 2),
    "long": ("int64", 4),
    "unsignedlong": ("uint64", 4),
    "float": ("float32", 2),
    "double": ("float64", 4),
    "string": ("string", None),
    "hexbinary": ("hex", None),
}
# Types by width for xsd:integer / xsd:decimal / "integer" / "number".
_SIGNED_BY_WIDTH: Final[Mapping[int, ValueType]] = {1: "int16", 2: "int32", 4: "int64"}
_UNSIGNED_BY_WIDTH: Final[Mapping[int, ValueType]] = {1: "uint16", 2: "uint32", 4: "uint64"}
_FLOAT_BY_WIDTH: Final[Mapping[int, ValueType]] = {2: "float32", 4: "float64"}
# DataSchema "type" values node-wot's octet-stream codec accepts.
_SCHEMA_TYPES: Final[Mapping[str, ValueType]] = {
    "int8": "int8",
    "uint8": "uint8",
    "int16": "int16",
    "uint16": "uint16",
    "int32": "int32",
    "uint32": "uint32",
    "int64": "int64",
    "uint64": "uint64",
    "float32": "float32",
    "float64": "float64",
}
#: Registers each fixed-width type occupies.
TYPE_WIDTH: Final[Mapping[ValueType, int]] = {
    "boolean": 1,
    "int8": 1,
    "uint8": 1,
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "int64": 4,
    "uint64": 4,
    "float32": 2,
    "float64": 4,
}
#: The ``modv:type`` that names each fixed-width value type (what a TD ThingBridge writes says).
XSD_TYPE: Final[Mapping[ValueType, str]] = {
    "boolean": "xsd:boolean",
    "int8": "xsd:byte",
    "uint8": "xsd:unsignedByte",
    "int16": "xsd:short",
    "uint16": "xsd:unsignedShort",
    "int32": "xsd:int",
    "uint32": "xsd:unsignedInt",
    "int64": "xsd:long",
    "uint64": "xsd:unsignedLong",
    "float32": "xsd:float",
    "float64": "xsd:double",
}
# node-wot's byteSeq -> (mostSignificantByte, mostSignificantWord).
_BYTE_SEQ: Final[Mapping[str, tuple[bool, bool]]] = {
    "BIG_ENDIAN": (True, True),
    "LITTLE_ENDIAN": (False, False),
    "BIG_ENDIAN_BYTE_SWAP": (False, True),
    "LITTLE_ENDIAN_BYTE_SWAP": (True, False),
}
_PARITIES: Final = {"N": "N", "E": "E", "O": "O", "NONE": "N", "EVEN": "E", "ODD": "O"}


@dataclass(frozen=True, slots=True)
class ModbusLink:
    """How to reach a Modbus device: the link, without the unit.

    ``framing`` is ``tcp`` (MBAP), ``rtu-over-tcp`` (RTU frames on a TCP socket, as many
    RS-485 gateways want) or ``rtu`` (a serial line, ``device``).
    """

    framing: Framing
    host: str | None = None
    port: int | None = None
    device: str | None = None
    baudrate: int | None = None
    parity: str | None = None
    stopbits: int | None = None
    bytesize: int | None = None

    @property
    def label(self) -> str:
        """Where the link goes, for messages (``host:port`` or the serial device)."""
        if self.device is not None:
            return self.device
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """How a device lets its registers be read together (Thing-level ``tbm:`` terms).

    ``max_span``: the most registers (or bits, for coils) one read may cover
    (``tbm:maxSpan``; 125 by default, the protocol's ceiling for FC03/FC04; an Eastron meter
    takes 80, "40 parameters"). ``max_gap``: the largest hole, in registers nobody asked
    for, that one read may cover to save a request (``tbm:maxGap``; 15 by default, as Home
    Assistant's modbus library plans). A device that refuses a read across a hole still works: the refused
    block's properties are read one by one from then on.
    """

    max_span: int = DEFAULT_MAX_SPAN
    max_gap: int = DEFAULT_MAX_GAP


DEFAULT_READ_LIMITS: Final = ReadLimits()


def read_limits(raw: Mapping[str, Any], vocabulary: Vocabulary | None = None) -> ReadLimits:
    """The Thing-level ``tbm:maxSpan``/``tbm:maxGap`` of a TD document (defaults without).

    Raises :class:`WotValidationError` naming the member when one is not an integer in range.
    """
    terms = _Terms(raw, vocabulary or vocabulary_of(raw.get("@context")), "$")
    span = terms.tbm("maxSpan")
    gap = terms.tbm("maxGap")
    if span is None and gap is None:
        return DEFAULT_READ_LIMITS
    max_span = terms.integer(span, 1, DEFAULT_MAX_SPAN) if span else DEFAULT_MAX_SPAN
    max_gap = terms.integer(gap, 0, DEFAULT_MAX_SPAN - 2) if gap else DEFAULT_MAX_GAP
    return ReadLimits(max_span=max_span, max_gap=max_gap)


@dataclass(frozen=True, slots=True)
class ScaleFactorRef:
    """A SunSpec-style scale-factor register: the value is multiplied by 10**(int16 at it)."""

    address: int
    entity: Entity


@dataclass(frozen=True, slots=True)
class ModbusForm:
    """One Modbus form: where a value lives and how its registers become the value."""

    link: ModbusLink
    unit_id: int
    entity: Entity
    address: int
    quantity: int
    value_type: ValueType
    function: int | None = None
    most_significant_byte: bool = True
    most_significant_word: bool = True
    polling_ms: int | None = None
    timeout_ms: int | None = None
    scale: float = 1.0
    offset: float = 0.0
    scale_factor: ScaleFactorRef | None = None
    not_available: tuple[int, ...] = ()
    bit_offset: int | None = None
    bit_length: int | None = None
    string_encoding: Literal["ascii", "utf-8"] = "ascii"

    @property
    def is_bit(self) -> bool:
        """True for coils and discrete inputs (one bit per value)."""
        return self.entity in ("Coil", "DiscreteInput")

    @property
    def writable_table(self) -> bool:
        """True when the table can be written at all (coils and holding registers)."""
        return self.entity in ("Coil", "HoldingRegister")

    @property
    def space(self) -> Literal["coil", "discrete", "holding", "input"]:
        """The address space, in ``modbus_connection``'s words."""
        return {
            "Coil": "coil",
            "DiscreteInput": "discrete",
            "HoldingRegister": "holding",
            "InputRegister": "input",
        }[self.entity]  # type: ignore[return-value]

    @property
    def word_order(self) -> Literal["big", "little"]:
        """``modv:mostSignificantWord`` as ``modbus_connection``'s word order."""
        return "big" if self.most_significant_word else "little"

    @property
    def write_function(self) -> int:
        """The function code a write of this form uses (FC05, FC06 or FC16)."""
        if self.is_bit:
            return 5
        if self.function == 16 or self.quantity > 1:
            return 16
        return 6


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The prefixes that stand for the binding's terms and for ThingBridge's, in one TD."""

    modv: tuple[str, ...] = ("modv", "modbus", "mod")
    tbm: tuple[str, ...] = (TBM_PREFIX,)


DEFAULT_VOCABULARY: Final = Vocabulary()


def vocabulary_of(context: Any) -> Vocabulary:
    """The prefixes a TD's ``@context`` maps to the binding's and ThingBridge's namespaces.

    ``modv``, ``modbus`` and ``mod`` always count as the binding's (TMs use them undeclared) and
    ``tbm`` as ThingBridge's; a context may add others (``{"mb": "https://www.w3.org/2019/wot/modbus#"}``).
    """
    modv = list(DEFAULT_VOCABULARY.modv)
    tbm = list(DEFAULT_VOCABULARY.tbm)
    items = context if isinstance(context, list) else [context]
    for item in items[:32]:
        if not isinstance(item, dict):
            continue
        for prefix, iri in list(item.items())[:256]:
            if not isinstance(prefix, str) or not isinstance(iri, str):
                continue
            if iri in MODV_NAMESPACES and prefix not in modv:
                modv.append(prefix)
            elif iri == TBM_NAMESPACE and prefix not in tbm:
                tbm.append(prefix)
    return Vocabulary(tuple(modv), tuple(tbm))


def is_modbus_scheme(scheme: str | None) -> bool:
    """True for the URI schemes of Modbus forms."""
    return (scheme or "").lower() in SCHEME_FRAMING


def modbus_url(href: str, base: URL | None) -> URL | None:
    """The Modbus URL a form's ``href`` names (resolved against ``base``), or None if not Modbus."""
    try:
        url = URL(href.strip())
    except (TypeError, ValueError):  # fmt: skip
        return None
    if url.scheme:  # a serial URL (modbus+rtu:///dev/ttyUSB0/...) has no host
        return url if is_modbus_scheme(url.scheme) else None
    if base is None or not is_modbus_scheme(base.scheme):
        return None
    return _join(base, href.strip())


def _join(base: URL, href: str) -> URL:
    """RFC 3986 resolution, done on the path because yarl will not join unknown schemes alike."""
    try:
        ref = URL(href)
    except ValueError:
        return base
    if not href:
        return base
    if ref.path.startswith("/"):
        path = ref.path
    else:
        directory = base.path.rsplit("/", 1)[0] if "/" in base.path else ""
        path = f"{directory}/{ref.path}"
    query = ref.query_string or ("" if ref.path else base.query_string)
    return base.with_path(path, keep_query=False).with_query(query or None)


# --------------------------------------------------------------------------------------------
# terms


class _Terms:
    """Look up a form's members through the prefixes of a vocabulary."""

    def __init__(self, item: Mapping[str, Any], vocabulary: Vocabulary, fpath: str) -> None:
        self.item = item
        self.vocabulary = vocabulary
        self.fpath = fpath

    def _find(self, prefixes: Iterable[str], term: str, bare: bool) -> tuple[str, Any] | None:
        for prefix in prefixes:
            key = f"{prefix}:{term}"
            if key in self.item:
                return key, self.item[key]
        if bare and term in self.item:
            return term, self.item[term]
        return None

    def modv(self, term: str, *, bare: bool = False) -> tuple[str, Any] | None:
        """A binding term (``modv:term``, ``modbus:term``, or ``term`` when ``bare``)."""
        return self._find(self.vocabulary.modv, term, bare)

    def tbm(self, term: str, *aliases: str) -> tuple[str, Any] | None:
        """A ThingBridge term, or one of its aliases written in full (``ex:bitOffset``)."""
        found = self._find(self.vocabulary.tbm, term, False)
        if found is not None:
            return found
        for alias in aliases:
            if alias in self.item:
                return alias, self.item[alias]
        return None

    def error(self, key: str, reason: str) -> WotValidationError:
        return WotValidationError(f"{self.fpath}.{key}", reason)

    def integer(self, found: tuple[str, Any], low: int, high: int) -> int:
        """An integer member (numeric strings accepted, as plugfest TDs write them)."""
        key, value = found
        number: Any = value
        if isinstance(value, str):
            text = value.strip()
            try:
                number = int(text, 0) if text[:2].lower() == "0x" else int(text)
            except ValueError as err:
                raise self.error(key, f"expected an integer, got {value!r}") from err
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise self.error(key, f"expected an integer, got {value!r}")
        if isinstance(number, float):
            if not number.is_integer():
                raise self.error(key, f"expected an integer, got {value!r}")
            number = int(number)
        if not low <= number <= high:
            raise self.error(key, f"{number} is outside {low}..{high}")
        return int(number)

    def number(self, found: tuple[str, Any]) -> float:
        key, value = found
        number: Any = value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError as err:
                raise self.error(key, f"expected a number, got {value!r}") from err
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise self.error(key, f"expected a number, got {value!r}")
        if not math.isfinite(number):
            raise self.error(key, f"expected a finite number, got {value!r}")
        return float(number)

    def boolean(self, found: tuple[str, Any]) -> bool:
        key, value = found
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self.error(key, f"expected true or false, got {value!r}")

    def text(self, found: tuple[str, Any]) -> str:
        key, value = found
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a string, got {value!r}")
        return value.strip()


# --------------------------------------------------------------------------------------------
# parsing


def _is_number(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` is true for ``²`` too, which ``int`` refuses)."""
    return bool(text) and text.isascii() and text.isdigit() and len(text) <= 9


def _entity_of(terms: _Terms) -> tuple[Entity | None, int | None]:
    entity: Entity | None = None
    if (found := terms.modv("entity")) is not None:
        key, value = found
        if not isinstance(value, str) or value.strip().lower() not in _ENTITIES:
            raise terms.error(
                key,
                f"unknown entity {value!r} (expected Coil, DiscreteInput, HoldingRegister or "
                "InputRegister)",
            )
        entity = _ENTITIES[value.strip().lower()]
    function: int | None = None
    if (found := terms.modv("function")) is not None:
        key, value = found
        if isinstance(value, int | str) and not isinstance(value, bool):
            text = str(value).strip()
            if _is_number(text) and int(text) in _CODES:
                function = int(text)
            elif text.lower() in _FUNCTIONS:
                function = _FUNCTIONS[text.lower()][0]
        if function is None:
            raise terms.error(key, f"unknown or unsupported Modbus function {value!r}")
        # The spec: with an entity, the function "should be ignored".
        if entity is None:
            entity = _CODES[function]
    return entity, function


def _path_numbers(url: URL, framing: Framing, terms: _Terms) -> tuple[str | None, list[int]]:
    """The serial device (RTU) and the trailing ``unit/address`` numbers of the URL's path."""
    segments = [s for s in url.path.split("/") if s]
    numbers: list[int] = []
    # The last two numeric segments are unit and address (one is the unit: ``.../1/`` bases).
    while segments and _is_number(segments[-1]) and len(numbers) < 2:
        numbers.insert(0, int(segments.pop()))
    if framing == "rtu":
        if not segments:
            raise terms.error("href", f"{str(url)!r} names no serial device")
        return "/" + "/".join(segments), numbers
    if segments:
        raise terms.error(
            "href", f"{str(url)!r}: the path must be /unitID/address, not {url.path!r}"
        )
    return None, numbers


def _link(url: URL, terms: _Terms) -> ModbusLink:
    framing = SCHEME_FRAMING[url.scheme.lower()]
    if (found := terms.tbm("framing")) is not None:
        declared = terms.text(found).lower()
        if declared not in ("tcp", "rtu-over-tcp", "rtu"):
            raise terms.error(found[0], f"unknown framing {declared!r} (tcp, rtu-over-tcp, rtu)")
        if (declared == "rtu") != (framing == "rtu"):
            raise terms.error(
                found[0], f"framing {declared!r} does not match the scheme {url.scheme!r}"
            )
        framing = declared  # type: ignore[assignment]
    if framing == "rtu":
        device, _ = _path_numbers(url, framing, terms)
        serial: dict[str, Any] = {}
        if (found := terms.tbm("baudrate")) is not None:
            serial["baudrate"] = terms.integer(found, 50, 4_000_000)
        if (found := terms.tbm("parity")) is not None:
            parity = terms.text(found).upper()
            if parity not in _PARITIES:
                raise terms.error(found[0], f"unknown parity {parity!r} (N, E or O)")
            serial["parity"] = _PARITIES[parity]
        if (found := terms.tbm("stopbits")) is not None:
            serial["stopbits"] = terms.integer(found, 1, 2)
        if (found := terms.tbm("bytesize")) is not None:
            serial["bytesize"] = terms.integer(found, 7, 8)
        return ModbusLink(framing="rtu", device=device, **serial)
    if not url.host:
        raise terms.error("href", f"{str(url)!r} has no host")
    try:
        port = url.port or DEFAULT_PORT
    except ValueError as err:
        raise terms.error("href", f"{str(url)!r} has an invalid port") from err
    return ModbusLink(framing=framing, host=url.host, port=port)


def _value_type(
    terms: _Terms,
    entity: Entity,
    schema_type: str | None,
    quantity: int | None,
    signed: bool | None,
) -> tuple[ValueType, int | None]:
    """The value's type and, when the type fixes it, its register count."""
    if entity in ("Coil", "DiscreteInput"):
        return "boolean", 1
    if (found := terms.modv("type")) is not None:
        key, value = found
        if not isinstance(value, str):
            raise terms.error(key, f"expected an xsd type name, got {value!r}")
        name = value.strip().split(":")[-1]
        lowered = name.lower()
        if lowered in _XSD:
            return _XSD[lowered]
        if lowered in _SCHEMA_TYPES:
            kind = _SCHEMA_TYPES[lowered]
            return kind, TYPE_WIDTH[kind]
        if lowered in ("integer", "decimal", "number"):
            width = quantity or 1
            table = _FLOAT_BY_WIDTH if lowered == "number" and width > 1 else _SIGNED_BY_WIDTH
            if width not in table:
                raise terms.error(key, f"{value!r} over {width} registers is not a number type")
            return table[width], width
        raise terms.error(key, f"unknown type {value!r}")
    if schema_type is not None and schema_type in _SCHEMA_TYPES:
        kind = _SCHEMA_TYPES[schema_type]
        return kind, TYPE_WIDTH[kind]
    width = quantity or 1
    if schema_type == "boolean":
        return "boolean", 1
    if schema_type == "string":
        return "string", quantity
    if schema_type == "number" and width in _FLOAT_BY_WIDTH:
        return _FLOAT_BY_WIDTH[width], width
    table = _UNSIGNED_BY_WIDTH if signed is False else _SIGNED_BY_WIDTH
    if width not in table:
        raise WotValidationError(
            terms.fpath, f"cannot tell the value's type from {width} registers; state modv:type"
        )
    return table[width], width


def _content_params(terms: _Terms) -> dict[str, str]:
    content = terms.item.get("contentType")
    if not isinstance(content, str):
        return {}
    params: dict[str, str] = {}
    for part in content.split(";")[1:]:
        name, _, value = part.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return params


def _scale_factor(terms: _Terms, entity: Entity) -> ScaleFactorRef | None:
    found = terms.tbm("scaleFactor")
    if found is None:
        return None
    key, value = found
    if isinstance(value, dict):
        address = value.get("address")
        if address is None:
            raise terms.error(key, "the scale-factor register needs an address")
        sf_address = terms.integer((f"{key}.address", address), 0, MAX_ADDRESS)
        sf_entity: Entity = entity
        if "entity" in value:
            raw = value["entity"]
            if not isinstance(raw, str) or _ENTITIES.get(raw.strip().lower()) not in (
                "HoldingRegister",
                "InputRegister",
            ):
                raise terms.error(
                    f"{key}.entity", f"expected HoldingRegister or InputRegister, got {raw!r}"
                )
            sf_entity = _ENTITIES[raw.strip().lower()]
        return ScaleFactorRef(sf_address, sf_entity)
    return ScaleFactorRef(terms.integer(found, 0, MAX_ADDRESS), entity)


def _shaping(terms: _Terms, entity: Entity, count: int) -> dict[str, Any]:
    """The ThingBridge terms that shape a value: scale, offset, sentinels, bits, encoding."""
    scale = 1.0
    if (found := terms.tbm("scale") or terms.modv("multiplier")) is not None:
        scale = terms.number(found)
        if scale == 0:
            raise terms.error(found[0], "a scale of 0 would lose every value")
    offset = 0.0
    if (found := terms.tbm("offset")) is not None:
        offset = terms.number(found)
    not_available: tuple[int, ...] = ()
    if (found := terms.tbm("notAvailable")) is not None:
        key, value = found
        values = value if isinstance(value, list) else [value]
        if len(values) > 16:
            raise terms.error(key, "at most 16 sentinel values")
        limit = (1 << (16 * count)) - 1
        not_available = tuple(
            terms.integer((f"{key}[{i}]", v), 0, limit) for i, v in enumerate(values)
        )
    bit_offset = bit_length = None
    if (found := terms.tbm("bitOffset", "ex:bitOffset")) is not None:
        bit_offset = terms.integer(found, 0, 16 * count - 1)
    if (found := terms.tbm("bitLength", "ex:bitLength")) is not None:
        bit_length = terms.integer(found, 1, 16 * count)
    if bit_length is not None and bit_offset is None:
        bit_offset = 0
    if bit_offset is not None:
        if entity in ("Coil", "DiscreteInput"):
            raise terms.error("tbm:bitOffset", "bit fields are for registers, not coils")
        length = bit_length if bit_length is not None else 1
        if bit_offset + length > 16 * count:
            raise terms.error(
                "tbm:bitOffset",
                f"bits {bit_offset}..{bit_offset + length - 1} do not fit {count} register(s)",
            )
        bit_length = length
    encoding: Literal["ascii", "utf-8"] = "ascii"
    if (found := terms.tbm("stringEncoding")) is not None:
        name = terms.text(found).lower().replace("_", "-")
        if name not in ("ascii", "utf-8", "utf8"):
            raise terms.error(found[0], f"unknown string encoding {name!r} (ascii or utf-8)")
        encoding = "ascii" if name == "ascii" else "utf-8"
    return {
        "scale": scale,
        "offset": offset,
        "not_available": not_available,
        "bit_offset": bit_offset,
        "bit_length": bit_length,
        "string_encoding": encoding,
    }


def _orders(terms: _Terms, params: Mapping[str, str]) -> tuple[bool, bool]:
    """``mostSignificantByte`` and ``mostSignificantWord`` (node-wot's ``byteSeq`` first)."""
    msb, msw = True, True
    if (seq := params.get("byteseq")) is not None:
        if seq.upper() not in _BYTE_SEQ:
            raise terms.error("contentType", f"unknown byteSeq {seq!r}")
        msb, msw = _BYTE_SEQ[seq.upper()]
    if (found := terms.modv("mostSignificantByte")) is not None:
        msb = terms.boolean(found)
    if (found := terms.modv("mostSignificantWord")) is not None:
        msw = terms.boolean(found)
    return msb, msw


def parse_modbus_form(
    item: Mapping[str, Any],
    url: URL,
    *,
    fpath: str,
    schema_type: str | None = None,
    vocabulary: Vocabulary = DEFAULT_VOCABULARY,
) -> ModbusForm:
    """Parse one Modbus form (``url`` is its href resolved against the TD's base).

    ``schema_type`` is the affordance's DataSchema ``type``; it decides the value's type when no
    ``modv:type`` does. Raises :class:`WotValidationError` naming the member and the problem.
    """
    terms = _Terms(item, vocabulary, fpath)
    link = _link(url, terms)
    _, numbers = _path_numbers(url, link.framing, terms)
    unit_id: int | None = numbers[0] if numbers else None
    address: int | None = numbers[1] if len(numbers) > 1 else None
    if unit_id is None and (found := terms.modv("unitID", bare=True)) is not None:
        unit_id = terms.integer(found, 0, 255)
    if address is None:
        found = terms.modv("address", bare=True) or terms.modv("offset", bare=True)
        if found is not None:
            address = terms.integer(found, 0, MAX_ADDRESS)
    if unit_id is None:
        raise terms.error("href", "no unit ID: neither the href path nor modv:unitID names one")
    if not 0 <= unit_id <= 255:
        raise terms.error("href", f"unit ID {unit_id} is outside 0..255")
    if address is None:
        raise terms.error("href", "no address: neither the href path nor modv:address names one")
    if address > MAX_ADDRESS:
        raise terms.error("href", f"address {address} is outside 0..{MAX_ADDRESS}")
    quantity: int | None = None
    if "quantity" in url.query:
        quantity = terms.integer(("href", url.query["quantity"]), 1, MAX_QUANTITY)
    elif (found := terms.modv("quantity", bare=True)) is not None:
        quantity = terms.integer(found, 1, MAX_QUANTITY)
    entity, function = _entity_of(terms)
    if entity is None:
        # The binding's default mapping says readCoil for readproperty; a number or a string
        # in one coil is impossible, so only a boolean schema keeps that default.
        entity = "Coil" if schema_type == "boolean" else "HoldingRegister"
    params = _content_params(terms)
    signed: bool | None = None
    if "signed" in params:
        signed = params["signed"].lower() != "false"
    if quantity is None and _is_number(params.get("length", "")):
        registers = max(1, (int(params["length"]) + 1) // 2)
        quantity = terms.integer(("contentType", registers), 1, MAX_QUANTITY)
    value_type, width = _value_type(terms, entity, schema_type, quantity, signed)
    if value_type in ("string", "hex") and quantity is None:
        raise terms.error("href", "a string needs a quantity (its register count)")
    count = quantity if value_type in ("string", "hex") or width is None else width
    if (
        quantity is not None
        and width is not None
        and quantity != width
        and not (value_type == "boolean" and entity in ("Coil", "DiscreteInput"))
    ):
        raise terms.error(
            "href", f"quantity {quantity} does not fit {value_type} ({width} register(s))"
        )
    assert count is not None
    msb, msw = _orders(terms, params)
    polling = terms.modv("pollingTime") or terms.modv("pollingRate")
    timeout = terms.modv("timeout")
    shaping = _shaping(terms, entity, count)
    scale_factor = _scale_factor(terms, entity)
    if scale_factor is not None and entity in ("Coil", "DiscreteInput"):
        raise terms.error("tbm:scaleFactor", "a coil has no scale")
    return ModbusForm(
        link=link,
        unit_id=unit_id,
        entity=entity,
        address=address,
        quantity=count,
        value_type=value_type,
        function=function,
        most_significant_byte=msb,
        most_significant_word=msw,
        polling_ms=terms.integer(polling, 0, MAX_POLLING_MS) if polling else None,
        timeout_ms=terms.integer(timeout, 1, MAX_TIMEOUT_MS) if timeout else None,
        scale_factor=scale_factor,
        **shaping,
    )
