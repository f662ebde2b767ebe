"""Registers entered by hand: the generic one-register Thing Model, once per register.

A device without a profile is described register by register (as Home Assistant's core modbus
YAML describes a sensor: table, address, data type, word order, scale, offset, unit). Each
:class:`Register` fills the placeholders of the shipped ``generic-modbus`` Thing Model; the
``register`` property of each generated TD is gathered into one TD under the register's own
``key`` (a name chosen once, when the register is added, so that it and the entities made from
it stay the same across restarts and edits).

The value's device class and state class are not stated: the TD→entity mapping derives them
from the unit (kWh: an energy total; W: a power measurement), as for any Thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import copy
from dataclasses import asdict, dataclass
import math
import re
from typing import Any, Final

from ..errors import WotValidationError
from ..thing_model import ThingModel, instantiate
from .binding import MAX_ADDRESS, TYPE_WIDTH, XSD_TYPE, Entity

#: The id of the shipped Thing Model each register instantiates.
GENERIC_PROFILE: Final = "generic-modbus"
#: The most registers one device may be given by hand (a poll reads them all).
MAX_REGISTERS: Final = 100
#: The longest name and unit accepted.
MAX_NAME_CHARS: Final = 64
MAX_UNIT_CHARS: Final = 32

#: Register tables as the form names them -> the binding's ``modv:entity``.
REGISTER_TABLES: Final[Mapping[str, Entity]] = {
    "input_register": "InputRegister",
    "holding_register": "HoldingRegister",
    "coil": "Coil",
    "discrete_input": "DiscreteInput",
}
BIT_TABLES: Final = frozenset({"coil", "discrete_input"})
WRITABLE_TABLES: Final = frozenset({"holding_register", "coil"})
#: Data types -> (``modv:type``, registers occupied), in the order the form offers them.
DATA_TYPES: Final[Mapping[str, tuple[str, int]]] = {
    kind: (XSD_TYPE[kind], TYPE_WIDTH[kind])
    for kind in (
        "int16",
        "uint16",
        "int32",
        "uint32",
        "float32",
        "int64",
        "uint64",
        "float64",
        "boolean",
    )
}
#: "big": the most significant word first (ABCD); "little": the least first (CDAB).
WORD_ORDERS: Final = ("big", "little")

_KEY = re.compile(r"^[a-z0-9_]{1,64}$")


@dataclass(frozen=True, slots=True)
class Register:
    """One register (or coil) entered by hand, as it is stored."""

    key: str
    name: str
    table: str
    address: int
    data_type: str
    word_order: str = "big"
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    writable: bool = False

    @property
    def width(self) -> int:
        """Registers (or coils) the value occupies."""
        return DATA_TYPES[self.data_type][1] if self.data_type in DATA_TYPES else 1

    @property
    def label(self) -> str:
        """The register as lists name it: ``Flow temperature (holding register 40)``."""
        return f"{self.name} ({self.table.replace('_', ' ')} {self.address})"

    def problems(self) -> dict[str, str]:
        """What is wrong with the register: field -> problem code (empty: nothing).

        Codes: ``name_invalid``, ``table_unknown``, ``address_range`` (not 0..65535),
        ``address_end`` (the value runs past register 65535), ``type_unknown``,
        ``bool_register`` (a boolean in a 16-bit register table), ``bool_only`` (a number in a
        coil or discrete input), ``word_order_unknown``, ``scale_invalid`` (0 or not finite),
        ``offset_invalid``, ``unit_long``, ``not_writable`` (an input register or discrete
        input marked writable).
        """
        found: dict[str, str] = {}
        if not _KEY.match(self.key) or not self.name.strip() or len(self.name) > MAX_NAME_CHARS:
            found["name"] = "name_invalid"
        if self.table not in REGISTER_TABLES:
            found["table"] = "table_unknown"
        if not 0 <= self.address <= MAX_ADDRESS:
            found["address"] = "address_range"
        elif self.address + self.width - 1 > MAX_ADDRESS:
            found["address"] = "address_end"
        if self.data_type not in DATA_TYPES:
            found["data_type"] = "type_unknown"
        elif self.table in BIT_TABLES and self.data_type != "boolean":
            found["data_type"] = "bool_only"
        elif self.data_type == "boolean" and self.table in REGISTER_TABLES.keys() - BIT_TABLES:
            found["data_type"] = "bool_register"
        if self.word_order not in WORD_ORDERS:
            found["word_order"] = "word_order_unknown"
        if self.scale == 0 or not math.isfinite(self.scale):
            found["scale"] = "scale_invalid"
        if not math.isfinite(self.offset):
            found["offset"] = "offset_invalid"
        if len(self.unit) > MAX_UNIT_CHARS:
            found["unit"] = "unit_long"
        if self.writable and self.table in REGISTER_TABLES and self.table not in WRITABLE_TABLES:
            found["writable"] = "not_writable"
        return found

    def as_dict(self) -> dict[str, Any]:
        """The register as an entry stores it (JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, path: str = "$") -> Register:
        """A stored register, checked.

        Raises:
            WotValidationError: a member is missing, of the wrong type or out of range (the
                path names it).
        """
        if not isinstance(data, Mapping):
            raise WotValidationError(path, "a register must be an object")
        try:
            register = cls(
                key=_typed(data, "key", str, path),
                name=_typed(data, "name", str, path),
                table=_typed(data, "table", str, path),
                address=_typed(data, "address", int, path),
                data_type=_typed(data, "data_type", str, path),
                word_order=_typed(data, "word_order", str, path, "big"),
                scale=float(_typed(data, "scale", (int, float), path, 1.0)),
                offset=float(_typed(data, "offset", (int, float), path, 0.0)),
                unit=_typed(data, "unit", str, path, ""),
                writable=_typed(data, "writable", bool, path, False),
            )
        except TypeError as err:
            raise WotValidationError(path, str(err)) from err
        problems = register.problems()
        if problems:
            member, problem = next(iter(problems.items()))
            raise WotValidationError(f"{path}.{member}", problem.replace("_", " "))
        return register


def _typed(
    data: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    path: str,
    default: Any = None,
) -> Any:
    value = data.get(key, default)
    if (
        value is None
        or isinstance(value, bool) is not (kind is bool)
        or not isinstance(value, kind)
    ):
        raise TypeError(f"{path}.{key}: expected {getattr(kind, '__name__', 'a number')}")
    return value


def _value_type(register: Register) -> str:
    if register.data_type == "boolean":
        return "boolean"
    if register.data_type.startswith(("int", "uint")) and (register.scale, register.offset) == (
        1.0,
        0.0,
    ):
        return "integer"
    return "number"


def registers_td(
    model: ThingModel,
    device: Mapping[str, Any],
    registers: Sequence[Register],
    *,
    title: str,
    thing_id: str,
) -> dict[str, Any]:
    """One TD of the device's registers: ``model`` instantiated once per register.

    ``device`` holds the device's placeholders (``HOST``, ``PORT``, ``UNIT_ID``). Property
    names are the registers' keys. (No ``minimum``/``maximum``: a write the registers cannot
    hold is refused by the client before anything is sent, and a number entity with a range
    would be a slider of 65,536 steps.)

    Raises:
        WotValidationError: no register, too many, a key used twice, or a register that is
            wrong (the path names it).
    """
    if not registers:
        raise WotValidationError("$.registers", "no register")
    if len(registers) > MAX_REGISTERS:
        raise WotValidationError("$.registers", f"more than {MAX_REGISTERS} registers")
    td: dict[str, Any] | None = None
    properties: dict[str, Any] = {}
    for index, register in enumerate(registers):
        path = f"$.registers[{index}]"
        problems = register.problems()
        if problems:
            member, problem = next(iter(problems.items()))
            raise WotValidationError(f"{path}.{member}", problem.replace("_", " "))
        if register.key in properties:
            raise WotValidationError(f"{path}.key", f"{register.key!r} is used twice")
        modbus_type, width = DATA_TYPES[register.data_type]
        values = {
            **device,
            "TITLE": register.name,
            "ADDRESS": register.address,
            "QUANTITY": width,
            "ENTITY": REGISTER_TABLES[register.table],
            "MODBUS_TYPE": modbus_type,
            "VALUE_TYPE": _value_type(register),
            "MOST_SIGNIFICANT_WORD": register.word_order == "big",
            "SCALE": register.scale,
            "OFFSET": register.offset,
            "UNIT": register.unit,
            "READ_ONLY": not register.writable,
        }
        one = instantiate(model, values, thing_id=thing_id)
        prop = copy.deepcopy(one["properties"]["register"])
        if not register.unit:
            prop.pop("unit", None)
        if register.data_type == "boolean":
            for form in prop["forms"]:  # a coil has no scale, no word order
                for term in ("tbm:scale", "tbm:offset", "modv:mostSignificantWord"):
                    form.pop(term, None)
        properties[register.key] = prop
        if td is None:
            td = one
    assert td is not None
    td["title"] = title
    td.pop("description", None)
    td["properties"] = properties
    return td
