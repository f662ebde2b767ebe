"""Read and write a Modbus Thing through ``modbus_connection``, the library of Home Assistant's modbus.

ThingBridge frames nothing and plans nothing itself: every readable Modbus property of a TD
becomes a field of a ``modbus_connection`` :class:`ManualComponent`, whose planner merges them
into the fewest block reads the device allows (holes of 15 registers, 125 registers a read by
default, or the TD's ``tbm:maxGap``/``tbm:maxSpan``: the TD's ``readallproperties`` as one
plan). A property with a ``modv:pollingTime`` longer than the poll interval (a meter's
settings, its serial number) joins the plan only when that time has passed, so a poll reads
what moves. The library's fields decode, scale and apply scale-factor registers; this module
adds what they do not do (byte swap, sentinels on the raw value, bit fields, UTF-8 strings).

A block the device refuses (an exception response) does not fail the others: its properties
are planned without holes from then on, and read one by one if that is refused too, so one bad
register costs one property.

The caller gives the *unit*: inside Home Assistant the handle ``async_get_unit`` returns, on the
command line one of :func:`open_unit`'s own connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
import contextlib
from dataclasses import dataclass, field
import logging
import math
import time
from typing import Any, cast

from modbus_connection import (
    ModbusConnectionError,
    ModbusError,
    ModbusExceptionError,
    ModbusSerialParams,
    ModbusTcpParams,
    ModbusTimeoutError,
    ModbusUnit,
)
from modbus_connection.decode import combine_words
from modbus_connection.model import ManualComponent
from modbus_connection.model.fields import (
    CoilField,
    DiscreteInputField,
    FloatField,
    NumberField,
    RegisterField,
)
from modbus_connection.tmodbus import ModbusConnection

from ..errors import (
    WotConnectionError,
    WotResponseError,
    WotTimeoutError,
    WotValidationError,
    WotValueError,
)
from ..td import DataSchema, PropertyAffordance, ThingDescription
from .binding import TYPE_WIDTH, ModbusForm, ModbusLink

_LOGGER = logging.getLogger(__name__)

#: Per-request timeout when the TD states none (``modv:timeout`` is "infinite" by default).
DEFAULT_TIMEOUT = 5.0
_EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


# Exception codes that say the request itself is wrong for this device (illegal function,
# data address, data value): its block is split for good. Others (busy, device failure, a
# gateway's) may pass, so they fail one poll only.
_PERMANENT = frozenset({1, 2, 3})
# Plans kept for the sets of due properties seen lately.
_MAX_PLANS = 8


def _swap_bytes(words: list[int]) -> list[int]:
    return [((w & 0xFF) << 8) | ((w >> 8) & 0xFF) for w in words]


class TdRegisterField(RegisterField[Any]):
    """A register field described by a Modbus form.

    Numbers are decoded, scaled and scale-factored by ``modbus_connection``'s own fields; this
    wrapper swaps bytes first (``mostSignificantByte: false``), checks ``tbm:notAvailable`` on
    the raw value, and decodes bit fields, strings and the 8-bit types itself.
    """

    def __init__(self, form: ModbusForm) -> None:
        """Describe the field of ``form``."""
        same_table = form.scale_factor is not None and form.scale_factor.entity == form.entity
        super().__init__(
            form.address,
            count=form.quantity,
            writable=form.entity == "HoldingRegister",
            scale_register=form.scale_factor.address if same_table and form.scale_factor else None,
        )
        self.form = form
        self.inner: RegisterField[Any] | None = None
        kind = form.value_type
        if form.bit_offset is None and kind.startswith(("int", "uint")) and kind[-1] != "8":
            self.inner = NumberField(
                form.address,
                count=form.quantity,
                signed=kind.startswith("int"),
                word_order=form.word_order,
                scale=form.scale,
                offset=form.offset,
                scale_register=self.scale_register,
                writable=self.writable,
            )
        elif form.bit_offset is None and kind.startswith("float"):
            self.inner = FloatField(
                form.address,
                count=form.quantity,
                word_order=form.word_order,
                scale=form.scale,
                offset=form.offset,
                scale_register=self.scale_register,
                writable=self.writable,
            )

    def words_of(self, words: list[int]) -> list[int]:
        """The words in big-endian byte order (byte-swapped for ``mostSignificantByte: false``)."""
        return words if self.form.most_significant_byte else _swap_bytes(words)

    def _scaled(self, value: float, scale_exponent: int | None) -> Any:
        form = self.form
        factor = form.scale * (10.0**scale_exponent if scale_exponent is not None else 1.0)
        if factor == 1.0 and form.offset == 0.0:
            return value
        result = value * factor + form.offset
        return result if math.isfinite(result) else None

    def decode(self, words: list[int], scale_exponent: int | None = None) -> Any:
        """Decode the registers of one read into the property's value (None: not available)."""
        form = self.form
        words = self.words_of(list(words))
        raw = combine_words(words, word_order=form.word_order)
        if raw in form.not_available:
            return None
        if scale_exponent is not None and scale_exponent == -32768:
            return None  # SunSpec: a scale factor that is not implemented
        kind = form.value_type
        if form.bit_offset is not None:
            length = form.bit_length or 1
            bits = (raw >> form.bit_offset) & ((1 << length) - 1)
            if kind == "boolean" or (length == 1 and form.scale == 1 and form.offset == 0):
                return bool(bits) if kind == "boolean" or length == 1 else bits
            return self._scaled(bits, scale_exponent)
        if self.inner is not None:
            return self.inner.decode(words, scale_exponent)
        if kind == "boolean":
            return raw != 0
        if kind in ("int8", "uint8"):
            low = words[0] & 0xFF
            value = low - 256 if kind == "int8" and low >= 128 else low
            return self._scaled(value, scale_exponent)
        data = b"".join(w.to_bytes(2, "big") for w in words)
        if kind == "hex":
            return data.hex()
        text = data.decode(form.string_encoding, errors="replace")
        return text.strip("\x00 ").split("\x00", 1)[0].rstrip()

    def encode(self, value: Any, scale_exponent: int | None = None) -> list[int]:
        """The registers a write of ``value`` sends (bit fields are merged by the caller)."""
        form = self.form
        kind = form.value_type
        if self.inner is not None:
            words = self.inner.encode(value, scale_exponent)
        elif kind == "boolean":
            words = [1 if value else 0]
        elif kind in ("int8", "uint8"):
            factor = form.scale * (10.0**scale_exponent if scale_exponent is not None else 1.0)
            words = [round((float(value) - form.offset) / factor) & 0xFF]
        elif kind == "string":
            data = str(value).encode(form.string_encoding)
            if len(data) > 2 * form.quantity:
                raise ValueError(f"{len(data)} bytes do not fit {form.quantity} registers")
            data = data.ljust(2 * form.quantity, b"\x00")
            words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
        else:
            raise ValueError(f"cannot write a {kind} value")
        return self.words_of(words)


@dataclass(slots=True)
class ReadResult:
    """One read of every readable property: values, per-property errors, raw registers."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, dict[int, int | bool]] = field(default_factory=dict)
    requests: int = 0
    #: Properties not read by this poll: read within their ``modv:pollingTime``.
    waiting: list[str] = field(default_factory=list)


class _CountingUnit:
    """Pass every call to the unit, counting the requests (for ``ReadResult.requests``)."""

    def __init__(self, unit: ModbusUnit) -> None:
        self._unit = unit
        self.requests = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._unit, name)
        if name.startswith(("read_", "write_")) and callable(attr):

            async def call(*args: Any, **kwargs: Any) -> Any:
                self.requests += 1
                return await attr(*args, **kwargs)

            return call
        return attr


def thing_endpoint(td: ThingDescription) -> tuple[ModbusLink, int]:
    """The one link and unit every Modbus form of ``td`` addresses.

    Raises :class:`WotValidationError` when the TD has no Modbus form, or forms for several
    devices (a Thing is one device; one client reads one unit).
    """
    found: tuple[ModbusLink, int] | None = None
    for name, prop in td.properties.items():
        for index, form in enumerate(prop.forms):
            if form.modbus is None:
                continue
            here = (form.modbus.link, form.modbus.unit_id)
            if found is None:
                found = here
            elif here != found:
                raise WotValidationError(
                    f"$.properties.{name}.forms[{index}]",
                    f"addresses unit {here[1]} at {here[0].label}, but other forms address "
                    f"unit {found[1]} at {found[0].label}: one Thing is one Modbus device",
                )
    if found is None:
        raise WotValidationError("$.properties", "no Modbus form")
    return found


def modbus_form(prop: PropertyAffordance, op: str) -> ModbusForm | None:
    """The Modbus form of ``prop`` for ``op`` (None when it has none)."""
    for form in prop.forms_for(op):
        if form.modbus is not None:
            return form.modbus
    return None


def check_write(schema: DataSchema, value: Any, path: str) -> Any:
    """Check ``value`` against the property's schema; return it (ints kept ints).

    Raises :class:`WotValidationError` naming ``path`` for a value of the wrong type, out of
    ``minimum``/``maximum``, not in ``enum``, or not a multiple of ``multipleOf``.
    """
    if schema.read_only:
        raise WotValidationError(path, "the property is read-only")
    if schema.const is not None and value != schema.const:
        raise WotValueError(path, f"{value!r} is not the constant {schema.const!r}")
    if schema.enum is not None and value not in schema.enum:
        raise WotValueError(path, f"{value!r} is not one of {list(schema.enum)!r}")
    kind = schema.type
    if kind == "boolean":
        if not isinstance(value, bool):
            raise WotValueError(path, f"expected true or false, got {value!r}")
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise WotValueError(path, f"expected a string, got {value!r}")
        if schema.max_length is not None and len(value) > schema.max_length:
            raise WotValueError(path, f"longer than {schema.max_length} characters")
        return value
    if kind in ("integer", "number") or kind in TYPE_WIDTH:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WotValueError(path, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            raise WotValueError(path, f"expected a finite number, got {value!r}")
        if kind == "integer" and not float(value).is_integer():
            raise WotValueError(path, f"expected an integer, got {value!r}")
        if schema.minimum is not None and value < schema.minimum:
            raise WotValueError(path, f"{value} is below the minimum {schema.minimum}")
        if schema.maximum is not None and value > schema.maximum:
            raise WotValueError(path, f"{value} is above the maximum {schema.maximum}")
        if schema.multiple_of:
            steps = value / schema.multiple_of
            if abs(steps - round(steps)) > 1e-9 * max(1.0, abs(steps)):
                raise WotValueError(path, f"{value} is not a multiple of {schema.multiple_of}")
        return int(value) if kind == "integer" else value
    return value


def _describe(err: BaseException) -> str:
    if isinstance(err, ModbusExceptionError):
        name = _EXCEPTION_NAMES.get(err.exception_code or 0, "exception")
        where = ""
        if err.block is not None:
            where = f" at {err.block.space} {err.block.address} (count {err.block.count})"
        return f"Modbus exception {err.exception_code} ({name}){where}"
    if isinstance(err, TimeoutError):
        return "no answer in time"
    return str(err) or type(err).__name__


class ModbusThingClient:
    """Read and write the Modbus properties of one Thing through a ``modbus_connection`` unit."""

    def __init__(
        self,
        td: ThingDescription,
        unit: ModbusUnit,
        *,
        max_gap: int | None = None,
        max_span: int | None = None,
        timeout: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare the fields of every readable Modbus property of ``td``.

        ``max_gap`` (the planner's: a hole of ``max_gap - 1`` registers) and ``max_span``
        default to the TD's ``tbm:maxGap`` + 1 and ``tbm:maxSpan`` (else 16 and 125).
        ``timeout`` bounds each request (default: the largest ``modv:timeout`` of the TD, else
        :data:`DEFAULT_TIMEOUT`). ``clock`` (seconds) times ``modv:pollingTime``. Properties
        whose forms cannot be executed are listed in :attr:`unusable` with the reason.
        """
        self.td = td
        self._unit = _CountingUnit(unit)
        # The planner's gap is from one value's last register to the next one's first.
        self.max_gap = td.modbus_limits.max_gap + 1 if max_gap is None else max_gap
        self.max_span = td.modbus_limits.max_span if max_span is None else max_span
        self._clock = clock
        # When each property was last read (by the clock), for those with a pollingTime.
        self._read_at: dict[str, float] = {}
        # Writes per property: a value read by a poll a write overtook is not the device's.
        self._writes: dict[str, int] = {}
        self._fields: dict[str, TdRegisterField | CoilField | DiscreteInputField] = {}
        self._forms: dict[str, ModbusForm] = {}
        self.unusable: dict[str, str] = {}
        timeouts: list[float] = []
        for name, prop in td.properties.items():
            form = modbus_form(prop, "readproperty")
            if form is None:
                continue
            if form.scale_factor is not None and form.scale_factor.entity != form.entity:
                self.unusable[name] = (
                    "the scale-factor register must be in the same table as the value"
                )
                continue
            if form.quantity > self.max_span:
                self.unusable[name] = (
                    f"{form.quantity} registers, more than one read may ask for ({self.max_span})"
                )
                continue
            self._forms[name] = form
            self._fields[name] = _field_of(form)
            if form.timeout_ms is not None:
                timeouts.append(form.timeout_ms / 1000)
        self.timeout = timeout or (max(timeouts) if timeouts else DEFAULT_TIMEOUT)
        # Properties whose block the device refused: planned without holes from then on
        # (strict), and those whose hole-less block it refused too: read one by one (alone).
        self._strict: set[str] = set()
        self._alone: set[str] = set()
        # The plans of the last few sets of due properties (a slow property makes two).
        self._components: dict[tuple[frozenset[str], int], ManualComponent] = {}

    @property
    def readable(self) -> tuple[str, ...]:
        """The properties a poll reads."""
        return tuple(self._fields)

    def _build(self, names: list[str], max_gap: int) -> ManualComponent:
        component = ManualComponent(
            cast("ModbusUnit", self._unit), max_gap=max_gap, max_span=self.max_span
        )
        for name in names:
            target = self._fields[name]
            if isinstance(target, TdRegisterField):
                component.add(name, target, space=self._forms[name].space)  # type: ignore[arg-type]
            else:
                component.add(name, target)
        return component

    async def _run(self, component: ManualComponent, blocks: int) -> dict[str, dict[int, Any]]:
        async with asyncio.timeout(self.timeout * max(1, blocks) + 1):
            return await component.async_read_raw(notify=False)

    def due(self, now: float | None = None) -> list[str]:
        """The properties a poll now reads: all but those read within their ``pollingTime``.

        A property without ``modv:pollingTime`` (or with one shorter than the poll interval) is
        read at every poll; one with a longer time (a meter's settings, its serial number) only
        once that time has passed since it was last read, so the poll's plan covers what moves.
        A property that failed, was never read or was just written is due at once.
        """
        now = self._clock() if now is None else now
        due = []
        for name in self._fields:
            polling = self._forms[name].polling_ms
            last = self._read_at.get(name)
            if polling is None or last is None or now - last >= polling / 1000:
                due.append(name)
        return due

    def _component_for(self, names: list[str], max_gap: int) -> ManualComponent:
        key = (frozenset(names), max_gap)
        component = self._components.get(key)
        if component is None:
            if len(self._components) >= _MAX_PLANS:
                self._components.pop(next(iter(self._components)))
            component = self._components[key] = self._build(names, max_gap)
        return component

    async def read_all(self, *, everything: bool = False) -> ReadResult:
        """Read the due properties (:meth:`due`; all with ``everything``) as one plan.

        ``readallproperties``: never raises for the device: a refused block costs only its
        properties (reported in ``errors``), a dead link costs all of them. Properties not due
        are in neither ``values`` nor ``errors`` (the caller keeps their last value) but in
        ``waiting``. A block the device refuses (exception 1, 2 or 3: often a read across
        registers its map does not have) is planned again without holes from then on, and
        a refused hole-less block's properties are read one by one.
        """
        with contextlib.suppress(AttributeError, TypeError):
            self._unit.require_timeout(self.timeout)
        result = ReadResult()
        start = self._unit.requests
        now = self._clock()
        writes = dict(self._writes)
        wanted = list(self._fields) if everything else self.due(now)
        result.waiting = [name for name in self._fields if name not in wanted]
        # The plan with holes, then the strict one (planned after the first, which may have
        # made more properties strict).
        for strict in (False, True):
            names = [
                name
                for name in wanted
                if (name in self._strict) == strict and name not in self._alone
            ]
            max_gap, demoted = (1, self._alone) if strict else (self.max_gap, self._strict)
            if not await self._read_tier(names, max_gap, demoted, result, wanted):
                break
        for name in [n for n in wanted if n in self._alone]:
            if name in result.errors:
                continue
            component = self._build([name], 1)
            try:
                raw = await self._run(component, 1)
            except (ModbusError, TimeoutError, OSError) as err:  # fmt: skip
                result.errors[name] = _describe(err)
                continue
            result.values[name] = component.values.get(name)
            _merge(result.raw, raw)
        self._settle(result, now, writes)
        result.requests = self._unit.requests - start
        return result

    async def _read_tier(
        self,
        pooled: list[str],
        max_gap: int,
        demoted: set[str],
        result: ReadResult,
        wanted: list[str],
    ) -> bool:
        """Read ``pooled`` as one plan; refused blocks' properties go to ``demoted``.

        False when the link itself failed (every wanted property then failed).
        """
        for _ in range(len(pooled) + 1):
            if not pooled:
                break
            component = self._component_for(pooled, max_gap)
            try:
                raw = await self._run(component, len(pooled))
            except ModbusExceptionError as err:
                if err.block is None or err.exception_code not in _PERMANENT:
                    # Busy, failed, a gateway without its target: this poll only.
                    self._fail(result, pooled, err)
                    break
                refused = _in_block(pooled, self._forms, err)
                if not refused:
                    self._fail(result, pooled, err)
                    break
                _LOGGER.debug("%s: %s; planning %s apart", self.td.title, err, refused)
                demoted.update(refused)
                pooled = [name for name in pooled if name not in refused]
                self._components.clear()
                continue
            except (ModbusError, TimeoutError, OSError) as err:  # fmt: skip
                # The link itself failed: the properties read alone would fail the same way,
                # and the device may have changed (or been replaced) by the time it answers:
                # every property is read at the next poll.
                self._fail(result, wanted, err)
                self._read_at.clear()
                return False
            values = component.values
            for name in pooled:
                result.values[name] = values.get(name)
            _merge(result.raw, raw)
            break
        return True

    def _settle(self, result: ReadResult, now: float, writes: Mapping[str, int]) -> None:
        """Book a poll: when each property was read; what it must not report."""
        for name in [n for n in result.values if self._writes.get(n) != writes.get(n)]:
            # Written while this poll ran: the value read may predate the write.
            del result.values[name]
            result.waiting.append(name)
        for name in result.values:
            self._read_at[name] = now
        for name in result.errors:
            self._read_at.pop(name, None)
        for name, reason in self.unusable.items():
            result.errors[name] = reason

    def _fail(self, result: ReadResult, names: list[str], err: BaseException) -> None:
        reason = _describe(err)
        for name in names:
            result.errors[name] = reason

    async def read_property(self, name: str) -> Any:
        """Read one property. Raises :class:`WotResponseError` / :class:`WotConnectionError`."""
        if name not in self._fields:
            raise WotValidationError(f"$.properties.{name}", "no readable Modbus form")
        component = self._build([name], 1)
        try:
            await self._run(component, 1)
        except ModbusExceptionError as err:
            raise WotResponseError(f"{name}: {_describe(err)}") from err
        except (ModbusTimeoutError, TimeoutError) as err:  # fmt: skip
            raise WotTimeoutError(f"{name}: {_describe(err)}") from err
        except (ModbusConnectionError, ModbusError, OSError) as err:  # fmt: skip
            raise WotConnectionError(f"{name}: {_describe(err)}") from err
        return component.values.get(name)

    async def write_property(self, name: str, value: Any) -> None:
        """Write ``value`` to a property: checked against its schema before any request.

        Raises :class:`WotValidationError` (nothing sent) for a value the schema refuses or the
        registers cannot hold, :class:`WotResponseError` when the device refuses the write,
        :class:`WotConnectionError` when it cannot be reached.
        """
        path = f"$.properties.{name}"
        prop = self.td.properties.get(name)
        if prop is None:
            raise WotValidationError(path, "no such property")
        form = modbus_form(prop, "writeproperty")
        if form is None:
            if prop.schema.read_only:
                raise WotValidationError(path, "the property is read-only")
            raise WotValidationError(path, "the property has no Modbus write form")
        if not form.writable_table:
            raise WotValidationError(path, f"a {form.entity} cannot be written")
        value = check_write(prop.schema, value, path)
        target = _field_of(form)
        send: Callable[[], Any]
        if isinstance(target, CoilField):
            flag = bool(value)

            async def send_coil() -> None:
                await self._unit.write_coil(form.address, flag)

            send = send_coil
        else:
            assert isinstance(target, TdRegisterField)
            send = await self._register_write(target, form, value, path)
        try:
            async with asyncio.timeout(self.timeout * 3 + 1):
                await send()
        except ModbusExceptionError as err:
            raise WotResponseError(f"{name}: {_describe(err)}") from err
        except (ModbusTimeoutError, TimeoutError) as err:  # fmt: skip
            raise WotTimeoutError(f"{name}: {_describe(err)}") from err
        except (ModbusError, OSError) as err:  # fmt: skip
            raise WotConnectionError(f"{name}: {_describe(err)}") from err
        finally:
            # Whatever the device made of it, the next poll reads the property again.
            self._read_at.pop(name, None)
            self._writes[name] = self._writes.get(name, 0) + 1

    async def _register_write(
        self, target: TdRegisterField, form: ModbusForm, value: Any, path: str
    ) -> Callable[[], Any]:
        """Encode a register write; raise WotValueError before sending when it cannot be."""
        unit = self._unit
        if form.bit_offset is not None:
            length = form.bit_length or 1
            raw = int(bool(value)) if isinstance(value, bool) else value
            if form.scale != 1 or form.offset != 0:
                raw = round((value - form.offset) / form.scale)
            if not isinstance(raw, int) or not 0 <= raw < (1 << length):
                raise WotValueError(path, f"{value!r} does not fit {length} bit(s)")
            shift, mask = form.bit_offset, ((1 << length) - 1) << form.bit_offset

            async def merge() -> None:
                words = await unit.read_holding_registers(form.address, form.quantity)
                words = target.words_of(list(words))
                word_raw = combine_words(words, word_order=form.word_order)
                merged = (word_raw & ~mask) | (raw << shift)
                out = [(merged >> (16 * i)) & 0xFFFF for i in range(form.quantity)]
                out = out[::-1] if form.word_order == "big" else out
                out = target.words_of(out)
                if len(out) == 1:
                    await unit.write_register(form.address, out[0])
                else:
                    await unit.write_registers(form.address, out)

            return merge
        exponent: int | None = None
        if form.scale_factor is not None:
            read_sf = (
                unit.read_input_registers
                if form.scale_factor.entity == "InputRegister"
                else unit.read_holding_registers
            )
            words = await read_sf(form.scale_factor.address, 1)
            exponent = words[0] - 0x10000 if words[0] >= 0x8000 else words[0]
        try:
            out = target.encode(value, exponent)
        except (ValueError, OverflowError, TypeError) as err:  # fmt: skip
            raise WotValueError(path, f"cannot encode {value!r}: {err}") from err
        if not all(0 <= w <= 0xFFFF for w in out):
            raise WotValueError(path, f"{value!r} does not fit {form.value_type}")
        width = 16 * len(out)
        kind = form.value_type
        if target.inner is not None and kind.startswith(("int", "uint")):
            # The library masks an out-of-range integer silently: refuse it instead.
            factor = form.scale * (10.0**exponent if exponent is not None else 1.0)
            raw_value = round((float(value) - form.offset) / factor)
            low, high = (
                (-(1 << (width - 1)), (1 << (width - 1)) - 1)
                if kind.startswith("int")
                else (0, (1 << width) - 1)
            )
            if not low <= raw_value <= high:
                raise WotValueError(path, f"{value!r} does not fit {kind}")

        async def write() -> None:
            if form.write_function == 16 or len(out) > 1:
                await unit.write_registers(form.address, out)
            else:
                await unit.write_register(form.address, out[0])

        return write


def _field_of(form: ModbusForm) -> TdRegisterField | CoilField | DiscreteInputField:
    if form.entity == "Coil":
        return CoilField(form.address, writable=True)
    if form.entity == "DiscreteInput":
        return DiscreteInputField(form.address)
    return TdRegisterField(form)


def _in_block(
    names: list[str], forms: Mapping[str, ModbusForm], err: ModbusExceptionError
) -> list[str]:
    block = err.block
    assert block is not None
    end = block.address + block.count
    refused = []
    for name in names:
        form = forms[name]
        if form.space != block.space:
            continue
        spans = [(form.address, form.quantity)]
        if form.scale_factor is not None:
            spans.append((form.scale_factor.address, 1))
        if any(a < end and a + n > block.address for a, n in spans):
            refused.append(name)
    return refused


def _merge(into: dict[str, dict[int, Any]], more: Mapping[str, Mapping[int, Any]]) -> None:
    for space, values in more.items():
        into.setdefault(space, {}).update(values)


def link_params(link: ModbusLink) -> ModbusTcpParams | ModbusSerialParams:
    """``modbus_connection``'s parameters for a link (RTU over TCP is a serial link on a socket)."""
    if link.framing == "tcp":
        assert link.host is not None
        return ModbusTcpParams(host=link.host, port=link.port or 502)
    if link.framing == "rtu-over-tcp":
        host = f"[{link.host}]" if link.host and ":" in link.host else link.host
        return ModbusSerialParams(
            device=f"socket://{host}:{link.port or 502}", framer="rtu", baudrate=115200
        )
    assert link.device is not None
    serial: dict[str, Any] = {}
    for key in ("baudrate", "parity", "stopbits", "bytesize"):
        if (value := getattr(link, key)) is not None:
            serial[key] = value
    return ModbusSerialParams(device=link.device, framer="rtu", **serial)


@contextlib.asynccontextmanager
async def open_unit(
    link: ModbusLink, unit_id: int, *, request_timeout: float = DEFAULT_TIMEOUT
) -> AsyncIterator[ModbusUnit]:
    """A unit on a connection of its own (the command line; Home Assistant shares its own)."""
    connection = ModbusConnection(link_params(link), timeout=request_timeout)
    try:
        yield connection.for_unit(unit_id)
    finally:
        with contextlib.suppress(Exception):
            await connection.close()
