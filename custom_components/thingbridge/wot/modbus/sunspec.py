"""SunSpec without a profile: scan a device's model chain and describe it as a Thing.

A SunSpec device answers ``SunS`` at holding register 40000 (or 0, or 50000), followed by a
chain of models (``ID``, length, data). ``modbus_connection``'s scanner walks the chain; this
module turns the models ThingBridge knows into a Thing Description whose forms carry the
scale-factor registers (``tbm:scaleFactor``) and the "not implemented" values
(``tbm:notAvailable``: 0x8000 for int16, 0xFFFF for uint16, 0 for an accumulator,
0x80000000 / 0xFFFFFFFF for 32-bit points; a float NaN is decoded as unknown anyway) so that
points a device leaves out show as unknown rather than as -32768.

Models covered (SunSpec Information Model, ``sunspec/models`` JSON definitions): common (1),
inverters with integers and scale factors (101 single phase, 102 split phase, 103 three phase)
and with floats (111, 112, 113), meters (201 single phase, 202 split phase, 203 wye, 204 delta)
and the multiple-MPPT extension (160, one set of properties per module).
"""

from __future__ import annotations

from dataclasses import dataclass
import re
from typing import Any, Final

from modbus_connection import ModbusError, ModbusUnit
from modbus_connection.decode import decode_string
from modbus_connection.model.sunspec.errors import SunSpecError
from modbus_connection.model.sunspec.scan import SunSpecModel, SunSpecModels, scan

from .binding import TBM_NAMESPACE, ModbusLink

#: Where the SunSpec marker is looked for, in order (the SunSpec specification's three bases).
SUNSPEC_BASES: Final = (40000, 0, 50000)
#: At most this many MPPT modules are described (a model 160 declares its own count ``N``).
MAX_MPPT_MODULES: Final = 32

_NOT_IMPLEMENTED: Final[dict[str, list[int]]] = {
    "int16": [0x8000],
    "uint16": [0xFFFF],
    "acc16": [0],
    "enum16": [0xFFFF],
    "int32": [0x80000000],
    "uint32": [0xFFFFFFFF],
    "acc32": [0],
}
_XSD: Final[dict[str, str]] = {
    "int16": "xsd:short",
    "uint16": "xsd:unsignedShort",
    "acc16": "xsd:unsignedShort",
    "enum16": "xsd:unsignedShort",
    "int32": "xsd:int",
    "uint32": "xsd:unsignedInt",
    "acc32": "xsd:unsignedInt",
    "float32": "xsd:float",
    "string": "xsd:string",
}
_SIZE: Final[dict[str, int]] = {"int32": 2, "uint32": 2, "acc32": 2, "float32": 2}


@dataclass(frozen=True, slots=True)
class Point:
    """One SunSpec point: offset in the model's data, type, scale-factor point, unit, title."""

    name: str
    offset: int
    type: str
    title: str
    unit: str | None = None
    sf: str | None = None
    size: int = 0

    @property
    def count(self) -> int:
        """Registers the point takes."""
        return self.size or _SIZE.get(self.type, 1)


def _inverter_int() -> tuple[Point, ...]:
    return (
        Point("A", 0, "uint16", "AC current", "A", "A_SF"),
        Point("AphA", 1, "uint16", "AC current phase A", "A", "A_SF"),
        Point("AphB", 2, "uint16", "AC current phase B", "A", "A_SF"),
        Point("AphC", 3, "uint16", "AC current phase C", "A", "A_SF"),
        Point("PPVphAB", 5, "uint16", "Voltage AB", "V", "V_SF"),
        Point("PPVphBC", 6, "uint16", "Voltage BC", "V", "V_SF"),
        Point("PPVphCA", 7, "uint16", "Voltage CA", "V", "V_SF"),
        Point("PhVphA", 8, "uint16", "Voltage AN", "V", "V_SF"),
        Point("PhVphB", 9, "uint16", "Voltage BN", "V", "V_SF"),
        Point("PhVphC", 10, "uint16", "Voltage CN", "V", "V_SF"),
        Point("W", 12, "int16", "AC power", "W", "W_SF"),
        Point("Hz", 14, "uint16", "Line frequency", "Hz", "Hz_SF"),
        Point("VA", 16, "int16", "AC apparent power", "VA", "VA_SF"),
        Point("VAr", 18, "int16", "AC reactive power", "var", "VAr_SF"),
        Point("PF", 20, "int16", "Power factor", "%", "PF_SF"),
        Point("WH", 22, "acc32", "AC energy", "Wh", "WH_SF"),
        Point("DCA", 25, "uint16", "DC current", "A", "DCA_SF"),
        Point("DCV", 27, "uint16", "DC voltage", "V", "DCV_SF"),
        Point("DCW", 29, "int16", "DC power", "W", "DCW_SF"),
        Point("TmpCab", 31, "int16", "Cabinet temperature", "°C", "Tmp_SF"),
        Point("TmpSnk", 32, "int16", "Heat sink temperature", "°C", "Tmp_SF"),
        Point("TmpTrns", 33, "int16", "Transformer temperature", "°C", "Tmp_SF"),
        Point("TmpOt", 34, "int16", "Other temperature", "°C", "Tmp_SF"),
        Point("St", 36, "enum16", "Operating state"),
        Point("StVnd", 37, "enum16", "Vendor operating state"),
    )


_INVERTER_INT_SF: Final = {
    "A_SF": 4,
    "V_SF": 11,
    "W_SF": 13,
    "Hz_SF": 15,
    "VA_SF": 17,
    "VAr_SF": 19,
    "PF_SF": 21,
    "WH_SF": 24,
    "DCA_SF": 26,
    "DCV_SF": 28,
    "DCW_SF": 30,
    "Tmp_SF": 35,
}


def _inverter_float() -> tuple[Point, ...]:
    names = [
        ("A", "AC current", "A"),
        ("AphA", "AC current phase A", "A"),
        ("AphB", "AC current phase B", "A"),
        ("AphC", "AC current phase C", "A"),
        ("PPVphAB", "Voltage AB", "V"),
        ("PPVphBC", "Voltage BC", "V"),
        ("PPVphCA", "Voltage CA", "V"),
        ("PhVphA", "Voltage AN", "V"),
        ("PhVphB", "Voltage BN", "V"),
        ("PhVphC", "Voltage CN", "V"),
        ("W", "AC power", "W"),
        ("Hz", "Line frequency", "Hz"),
        ("VA", "AC apparent power", "VA"),
        ("VAr", "AC reactive power", "var"),
        ("PF", "Power factor", "%"),
        ("WH", "AC energy", "Wh"),
        ("DCA", "DC current", "A"),
        ("DCV", "DC voltage", "V"),
        ("DCW", "DC power", "W"),
        ("TmpCab", "Cabinet temperature", "°C"),
        ("TmpSnk", "Heat sink temperature", "°C"),
        ("TmpTrns", "Transformer temperature", "°C"),
        ("TmpOt", "Other temperature", "°C"),
    ]
    points = [Point(n, 2 * i, "float32", t, u) for i, (n, t, u) in enumerate(names)]
    points += [Point("St", 46, "enum16", "Operating state")]
    return tuple(points)


def _meter() -> tuple[Point, ...]:
    return (
        Point("A", 0, "int16", "Total AC current", "A", "A_SF"),
        Point("AphA", 1, "int16", "Phase A current", "A", "A_SF"),
        Point("AphB", 2, "int16", "Phase B current", "A", "A_SF"),
        Point("AphC", 3, "int16", "Phase C current", "A", "A_SF"),
        Point("PhV", 5, "int16", "Average voltage line to neutral", "V", "V_SF"),
        Point("PhVphA", 6, "int16", "Voltage phase A to neutral", "V", "V_SF"),
        Point("PhVphB", 7, "int16", "Voltage phase B to neutral", "V", "V_SF"),
        Point("PhVphC", 8, "int16", "Voltage phase C to neutral", "V", "V_SF"),
        Point("PPV", 9, "int16", "Average voltage line to line", "V", "V_SF"),
        Point("Hz", 14, "int16", "Frequency", "Hz", "Hz_SF"),
        Point("W", 16, "int16", "Total real power", "W", "W_SF"),
        Point("WphA", 17, "int16", "Real power phase A", "W", "W_SF"),
        Point("WphB", 18, "int16", "Real power phase B", "W", "W_SF"),
        Point("WphC", 19, "int16", "Real power phase C", "W", "W_SF"),
        Point("VA", 21, "int16", "AC apparent power", "VA", "VA_SF"),
        Point("VAR", 26, "int16", "Reactive power", "var", "VAR_SF"),
        Point("PF", 31, "int16", "Power factor", "%", "PF_SF"),
        Point("TotWhExp", 36, "acc32", "Total real energy exported", "Wh", "TotWh_SF"),
        Point("TotWhImp", 44, "acc32", "Total real energy imported", "Wh", "TotWh_SF"),
    )


_METER_SF: Final = {
    "A_SF": 4,
    "V_SF": 13,
    "Hz_SF": 15,
    "W_SF": 20,
    "VA_SF": 25,
    "VAR_SF": 30,
    "PF_SF": 35,
    "TotWh_SF": 52,
}


def _mppt_module() -> tuple[Point, ...]:
    return (
        Point("IDStr", 1, "string", "Label", size=8),
        Point("DCA", 9, "uint16", "DC current", "A", "DCA_SF"),
        Point("DCV", 10, "uint16", "DC voltage", "V", "DCV_SF"),
        Point("DCW", 11, "uint16", "DC power", "W", "DCW_SF"),
        Point("DCWH", 12, "acc32", "Lifetime energy", "Wh", "DCWH_SF"),
        Point("Tmp", 16, "int16", "Temperature", "°C"),
    )


_MPPT_SF: Final = {"DCA_SF": 0, "DCV_SF": 1, "DCW_SF": 2, "DCWH_SF": 3}

#: Model ID -> (name prefix of its properties, title prefix, points, scale-factor offsets).
MODELS: Final[dict[int, tuple[str, str, tuple[Point, ...], dict[str, int]]]] = {
    101: ("inverter", "Inverter", _inverter_int(), _INVERTER_INT_SF),
    102: ("inverter", "Inverter", _inverter_int(), _INVERTER_INT_SF),
    103: ("inverter", "Inverter", _inverter_int(), _INVERTER_INT_SF),
    111: ("inverter", "Inverter", _inverter_float(), {}),
    112: ("inverter", "Inverter", _inverter_float(), {}),
    113: ("inverter", "Inverter", _inverter_float(), {}),
    201: ("meter", "Meter", _meter(), _METER_SF),
    202: ("meter", "Meter", _meter(), _METER_SF),
    203: ("meter", "Meter", _meter(), _METER_SF),
    204: ("meter", "Meter", _meter(), _METER_SF),
}
# Phases a single-phase (101, 111, 201) or split-phase (102, 112, 202) model does not have.
_SINGLE_PHASE: Final[dict[int, tuple[str, ...]]] = {
    101: ("B", "C"),
    111: ("B", "C"),
    201: ("B", "C"),
    102: ("C",),
    112: ("C",),
    202: ("C",),
}


@dataclass(frozen=True, slots=True)
class SunSpecDevice:
    """What a scan found: the base address, the model chain, and the common model's identity."""

    base: int
    models: SunSpecModels
    manufacturer: str | None = None
    model: str | None = None
    version: str | None = None
    serial_number: str | None = None
    mppt_modules: int = 0


async def detect_sunspec(
    unit: ModbusUnit, bases: tuple[int, ...] = SUNSPEC_BASES
) -> SunSpecDevice | None:
    """Scan for the SunSpec marker and the model chain; None when the device has no marker.

    Raises ``ModbusError`` (``modbus_connection``) when the device cannot be reached, and
    ``SunSpecError`` for a chain that is broken after a marker.
    """
    for base in bases:
        try:
            models = await scan(unit, base)
        except SunSpecError as err:
            if "No SunSpec marker" in str(err):
                continue
            raise
        except ModbusError as err:
            if getattr(err, "exception_code", None) is not None:
                continue  # no register at this base: try the next one
            raise
        identity: dict[str, str | None] = {}
        if (common := models.first(1)) is not None:
            words = await unit.read_holding_registers(common.address + 2, 64)
            for key, offset, size in (
                ("manufacturer", 0, 16),
                ("model", 16, 16),
                ("version", 40, 8),
                ("serial_number", 48, 16),
            ):
                identity[key] = decode_string(words[offset : offset + size]).strip() or None
        modules = 0
        if (mppt := models.first(160)) is not None:
            (count,) = await unit.read_holding_registers(mppt.address + 2 + 6, 1)
            modules = min(count, MAX_MPPT_MODULES, max(0, (mppt.length - 8) // 20))
        return SunSpecDevice(base, models, mppt_modules=modules, **identity)
    return None


def _form(
    point: Point, address: int, sf_address: int | None, *, writable: bool = False
) -> dict[str, Any]:
    form: dict[str, Any] = {
        "href": f"{address}?quantity={point.count}",
        "op": ["readproperty", "writeproperty"] if writable else ["readproperty"],
        "modv:entity": "HoldingRegister",
        "modv:type": _XSD[point.type],
    }
    if sf_address is not None:
        form["tbm:scaleFactor"] = {"address": sf_address, "entity": "HoldingRegister"}
    if point.type in _NOT_IMPLEMENTED:
        form["tbm:notAvailable"] = _NOT_IMPLEMENTED[point.type]
    return form


def _property(point: Point, title: str, form: dict[str, Any]) -> dict[str, Any]:
    prop: dict[str, Any] = {
        "title": title,
        "type": "string" if point.type == "string" else "number",
        "readOnly": "writeproperty" not in form["op"],
        "forms": [form],
    }
    if point.type in ("enum16",):
        prop["type"] = "integer"
    if point.unit is not None:
        prop["unit"] = point.unit
    return prop


def link_url(link: ModbusLink, unit_id: int) -> str:
    """The ``base`` of a Thing on ``link`` at ``unit_id`` (``modbus+tcp://host:port/unit/``)."""
    if link.framing == "rtu":
        return f"modbus+rtu://{link.device}/{unit_id}/"
    scheme = "modbus+rtu-tcp" if link.framing == "rtu-over-tcp" else "modbus+tcp"
    return f"{scheme}://{link.label}/{unit_id}/"


def _model_properties(
    model: SunSpecModel, label: tuple[str, str], properties: dict[str, Any]
) -> None:
    prefix, title = label
    _, _, points, sfs = MODELS[model.model_id]
    data = model.address + 2
    skip = _SINGLE_PHASE.get(model.model_id, ())
    for point in points:
        if point.offset + point.count > model.length:
            continue
        if any(point.name.endswith(f"ph{phase}") for phase in skip):
            continue
        if model.model_id in (201, 202) and point.name.startswith("PPV"):
            continue
        sf = data + sfs[point.sf] if point.sf is not None and point.sf in sfs else None
        name = f"{prefix}_{point.name.lower()}"
        properties[name] = _property(
            point, f"{title} {point.title.lower()}", _form(point, data + point.offset, sf)
        )


def sunspec_td(device: SunSpecDevice, link: ModbusLink, unit_id: int) -> dict[str, Any]:
    """A Thing Description (JSON) of the models ThingBridge knows in ``device``'s chain."""
    properties: dict[str, Any] = {}
    if (common := device.models.first(1)) is not None:
        address = common.address + 2 + 64
        point = Point("DA", 64, "uint16", "Modbus device address")
        form = _form(point, address, None, writable=True)
        del form["tbm:notAvailable"]
        properties["common_device_address"] = _property(point, point.title, form) | {
            "minimum": 1,
            "maximum": 247,
        }
    seen: dict[str, int] = {}
    for model in device.models.chain:
        if model.model_id in MODELS:
            prefix, title, _, _ = MODELS[model.model_id]
            seen[prefix] = seen.get(prefix, 0) + 1
            if seen[prefix] > 1:
                prefix, title = f"{prefix}{seen[prefix]}", f"{title} {seen[prefix]}"
            _model_properties(model, (prefix, title), properties)
        elif model.model_id == 160:
            data = model.address + 2
            for index in range(device.mppt_modules):
                start = data + 8 + 20 * index
                for point in _mppt_module():
                    sf = data + _MPPT_SF[point.sf] if point.sf is not None else None
                    name = f"mppt{index + 1}_{point.name.lower()}"
                    properties[name] = _property(
                        point,
                        f"MPPT {index + 1} {point.title.lower()}",
                        _form(point, start + point.offset, sf),
                    )
    title = " ".join(filter(None, (device.manufacturer, device.model))) or "SunSpec device"
    td: dict[str, Any] = {
        "@context": [
            "https://www.w3.org/2022/wot/td/v1.1",
            {
                "modv": "https://www.w3.org/2019/wot/modbus#",
                "tbm": TBM_NAMESPACE,
                "schema": "https://schema.org/",
            },
        ],
        "@type": "Thing",
        "title": title,
        "base": link_url(link, unit_id),
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
        "properties": properties,
    }
    if device.serial_number:
        parts = (device.manufacturer or "unknown", device.serial_number)
        td["id"] = "urn:sunspec:" + ":".join(re.sub(r"[^A-Za-z0-9._-]", "-", p) for p in parts)
        td["schema:serialNumber"] = device.serial_number
    if device.manufacturer:
        td["schema:manufacturer"] = {"name": device.manufacturer}
    if device.model:
        td["schema:model"] = device.model
    if device.version:
        td["schema:softwareVersion"] = device.version
    return td
