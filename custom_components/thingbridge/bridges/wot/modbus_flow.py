"""The Modbus device steps of the config flow, and a Modbus device entry's options flow.

A Modbus device is added by its link (Modbus TCP, RTU over TCP, or a serial line), its unit id
and its profile: a Thing Model shipped with ThingBridge, one of the user's own (in
``<config>/thingbridge/profiles``), or "detect SunSpec". Before the entry is created the device
is read once through Home Assistant's modbus (``async_get_temporary_unit``), so a wrong address,
a silent unit, a device that is not SunSpec or a broken profile is named in the form instead of
failing later. One entry per unit: its unique ID is ``host:port:unit`` (``device:unit`` on a
serial line).

A device without a profile is described by registers entered here ("Registers I enter here"):
one form per register (name, table, address, data type, word order, scale, offset, unit,
writable), each checked and read with those entered before it, then a menu "add another" /
"done". The registers are kept in the entry's options (``registers``: a list of
:class:`...wot.Register` as dictionaries); each keeps the key its name gave it when it was added
(its property's name, the end of its entities' unique IDs). The options flow adds and removes
registers; a removed register's entities leave the entity registry.

:class:`ModbusSteps` is a mixin of the integration's config flow; what it found so far is kept
in one :class:`ModbusFlowState` (``self._modbus``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
from homeassistant.util import slugify
import probatio

from ...const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_CONNECTION,
    CONF_DEVICE,
    CONF_KIND,
    CONF_OPTIONAL,
    CONF_PARITY,
    CONF_PROFILE,
    CONF_REGISTERS,
    CONF_SCAN_SECONDS,
    CONF_STOPBITS,
    CONF_UNIT_ID,
    DEFAULT_MODBUS_PORT,
    DEFAULT_MODBUS_SCAN_SECONDS,
    KIND_MODBUS_DEVICE,
    MAX_MODBUS_SCAN_SECONDS,
    MIN_MODBUS_SCAN_SECONDS,
    MODBUS_CONNECTIONS,
    MODBUS_SERIAL,
    PROFILE_REGISTERS,
    PROFILE_SUNSPEC,
)
from ...wot import (
    DATA_TYPES,
    MAX_REGISTERS,
    REGISTER_TABLES,
    WORD_ORDERS,
    Register,
    WotConnectionError,
    WotError,
    WotResponseError,
    WotTimeoutError,
    WotValidationError,
)
from ..flow import FlowError
from .modbus import (
    ModbusNotSunSpecError,
    ModbusRegisterError,
    async_test_read,
    device_key,
    device_profiles,
    profile_library,
    stored_registers,
    thing_key,
    user_profile_dir,
)

# How much of a library's reason an error shows (a profile error names file, path, problem).
MAX_REASON_CHARS = 300
# How many of the user's unreadable profiles the profile step names.
MAX_BROKEN = 3

NETWORK_KEYS = (CONF_HOST, CONF_PORT, CONF_UNIT_ID)
SERIAL_KEYS = (CONF_DEVICE, CONF_BAUDRATE, CONF_BYTESIZE, CONF_PARITY, CONF_STOPBITS, CONF_UNIT_ID)

UNIT = NumberSelector(NumberSelectorConfig(min=0, max=255, step=1, mode=NumberSelectorMode.BOX))
PORT = NumberSelector(NumberSelectorConfig(min=1, max=65535, step=1, mode=NumberSelectorMode.BOX))


def _choice(options: list[str], key: str | None = None) -> SelectSelector:
    """A dropdown of fixed choices, translated (``selector.<key>.options``) when ``key`` is given."""
    if key is None:
        return SelectSelector(
            SelectSelectorConfig(options=options, mode=SelectSelectorMode.DROPDOWN)
        )
    return SelectSelector(
        SelectSelectorConfig(options=options, translation_key=key, mode=SelectSelectorMode.DROPDOWN)
    )


CONNECTION_SCHEMA = probatio.Schema(
    {probatio.Required(CONF_CONNECTION): _choice(list(MODBUS_CONNECTIONS), "modbus_connection")}
)
NETWORK_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_HOST): TextSelector(),
        probatio.Required(CONF_PORT, default=DEFAULT_MODBUS_PORT): PORT,
        probatio.Required(CONF_UNIT_ID, default=1): UNIT,
    }
)
SERIAL_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_DEVICE): TextSelector(),
        probatio.Required(CONF_BAUDRATE, default="9600"): _choice(
            ["1200", "2400", "4800", "9600", "19200", "38400", "57600", "115200"]
        ),
        probatio.Required(CONF_BYTESIZE, default="8"): _choice(["7", "8"]),
        probatio.Required(CONF_PARITY, default="N"): _choice(["N", "E", "O"], "modbus_parity"),
        probatio.Required(CONF_STOPBITS, default="1"): _choice(["1", "2"]),
        probatio.Required(CONF_UNIT_ID, default=1): UNIT,
    }
)

# The fields of a register's form (and the members of a stored register).
REG_NAME = "name"
REG_TABLE = "table"
REG_ADDRESS = "address"
REG_DATA_TYPE = "data_type"
REG_WORD_ORDER = "word_order"
REG_SCALE = "scale"
REG_OFFSET = "offset"
REG_UNIT = "unit"
REG_WRITABLE = "writable"
# Units offered in the register form's dropdown (any other may be typed). The unit decides the
# entity's device class and state class (kWh: an energy total; W: a power measurement).
REGISTER_UNITS = ["W", "kW", "Wh", "kWh", "V", "A", "Hz", "VA", "var", "varh", "°C", "%", "s", "h"]
_ANY_NUMBER = NumberSelector(NumberSelectorConfig(step="any", mode=NumberSelectorMode.BOX))
REGISTER_SCHEMA = probatio.Schema(
    {
        probatio.Required(REG_NAME): TextSelector(),
        probatio.Required(REG_TABLE, default="holding_register"): _choice(
            list(REGISTER_TABLES), "modbus_register_table"
        ),
        # No minimum or maximum here: the step names what is wrong in words of its own.
        probatio.Required(REG_ADDRESS, default=0): NumberSelector(
            NumberSelectorConfig(step=1, mode=NumberSelectorMode.BOX)
        ),
        probatio.Required(REG_DATA_TYPE, default="uint16"): _choice(
            list(DATA_TYPES), "modbus_data_type"
        ),
        probatio.Required(REG_WORD_ORDER, default="big"): _choice(
            list(WORD_ORDERS), "modbus_word_order"
        ),
        probatio.Required(REG_SCALE, default=1.0): _ANY_NUMBER,
        probatio.Required(REG_OFFSET, default=0.0): _ANY_NUMBER,
        probatio.Optional(REG_UNIT): SelectSelector(
            SelectSelectorConfig(
                options=REGISTER_UNITS, custom_value=True, mode=SelectSelectorMode.DROPDOWN
            )
        ),
        probatio.Required(REG_WRITABLE, default=False): BooleanSelector(),
    }
)


def register_from_form(
    user_input: Mapping[str, Any], taken: set[str]
) -> tuple[Register, dict[str, str]]:
    """The register a form describes, and its errors by field (``register_<problem>``).

    Its key is the slug of its name; a key one of ``taken`` already has is an error on the name.
    """
    name = str(user_input[REG_NAME]).strip()
    address = float(user_input[REG_ADDRESS])
    register = Register(
        key=slugify(name)[:64],
        name=name,
        table=str(user_input[REG_TABLE]),
        address=int(address) if address.is_integer() else -1,
        data_type=str(user_input[REG_DATA_TYPE]),
        word_order=str(user_input[REG_WORD_ORDER]),
        scale=float(user_input[REG_SCALE]),
        offset=float(user_input[REG_OFFSET]),
        unit=str(user_input.get(REG_UNIT) or "").strip(),
        writable=bool(user_input[REG_WRITABLE]),
    )
    errors = {field: f"register_{problem}" for field, problem in register.problems().items()}
    if REG_NAME not in errors and register.key in taken:
        errors[REG_NAME] = "register_name_taken"
    return register, errors


def registers_list(registers: list[Register]) -> str:
    """The registers as a form's description lists them."""
    return "\n".join(f"- {register.label}" for register in registers) or "-"


def _reason(err: Exception) -> str:
    return str(err)[:MAX_REASON_CHARS]


# The form error for each kind of failure, the first that matches.
_ERROR_KEYS: tuple[tuple[type[Exception], str], ...] = (
    (ModbusNotSunSpecError, "modbus_not_sunspec"),
    (ModbusRegisterError, "modbus_register_failed"),  # names the register
    (WotTimeoutError, "modbus_no_answer"),  # the link is up, the unit is silent
    (WotConnectionError, "modbus_cannot_connect"),
    (WotValidationError, "modbus_profile_error"),  # names the file, the path, the problem
    (WotResponseError, "modbus_refused"),  # an exception response: the wrong profile?
    (WotError, "modbus_read_failed"),
    # Home Assistant's modbus refuses a device already in use over other link settings.
    (HomeAssistantError, "modbus_link_in_use"),
)


def modbus_flow_error(err: WotError | HomeAssistantError) -> FlowError:
    """The form error for what went wrong building or reading the device."""
    key = next(key for kind, key in _ERROR_KEYS if isinstance(err, kind))
    return FlowError(key, {"error": _reason(err)})


def _typed(data: Mapping[str, Any]) -> dict[str, Any]:
    """The form's values as stored: numbers as integers, the host trimmed."""
    typed = dict(data)
    for key in (CONF_PORT, CONF_UNIT_ID, CONF_BAUDRATE, CONF_BYTESIZE, CONF_STOPBITS):
        if key in typed:
            typed[key] = int(typed[key])
    for key in (CONF_HOST, CONF_DEVICE):
        if key in typed:
            typed[key] = str(typed[key]).strip()
    return typed


@dataclass
class ModbusFlowState:
    """What the Modbus steps found so far: the link and unit, then the profile."""

    data: dict[str, Any] = field(default_factory=dict)
    registers: list[Register] = field(default_factory=list)
    title: str = ""


class ModbusSteps(ConfigFlow):
    """The config flow steps that add a Modbus device (a mixin of ThingBridge's config flow)."""

    def __init__(self) -> None:
        """Start with nothing found."""
        super().__init__()
        self._modbus = ModbusFlowState()

    async def async_step_modbus_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask how the device is connected."""
        if user_input is not None:
            self._modbus.data = {CONF_KIND: KIND_MODBUS_DEVICE, **user_input}
            if user_input[CONF_CONNECTION] == MODBUS_SERIAL:
                return await self.async_step_modbus_serial()
            return await self.async_step_modbus_network()
        return self.async_show_form(step_id="modbus_device", data_schema=CONNECTION_SCHEMA)

    async def async_step_modbus_network(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the host, port and unit id (Modbus TCP, or RTU carried over TCP)."""
        if user_input is not None:
            return await self._async_link_entered(user_input)
        return self.async_show_form(step_id="modbus_network", data_schema=NETWORK_SCHEMA)

    async def async_step_modbus_serial(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the serial port, its line settings and the unit id."""
        if user_input is not None:
            return await self._async_link_entered(user_input)
        return self.async_show_form(step_id="modbus_serial", data_schema=SERIAL_SCHEMA)

    async def _async_link_entered(self, user_input: dict[str, Any]) -> ConfigFlowResult:
        self._modbus.data.update(_typed(user_input))
        await self.async_set_unique_id(device_key(self._modbus.data))
        self._abort_if_unique_id_configured()
        return await self.async_step_modbus_profile()

    async def _profile_form(self) -> tuple[probatio.Schema, str]:
        """The profile dropdown, and the user's profiles that could not be read (named)."""
        library = await self.hass.async_add_executor_job(
            profile_library, user_profile_dir(self.hass)
        )
        options = [
            SelectOptionDict(
                value=profile_id,
                label=f"{model.title} ({profile_id}{', yours' if model.user else ''})",
            )
            for profile_id, model in sorted(device_profiles(library).items())
            if profile_id not in (PROFILE_SUNSPEC, PROFILE_REGISTERS)
        ]
        options.append(SelectOptionDict(value=PROFILE_SUNSPEC, label="SunSpec"))
        options.append(SelectOptionDict(value=PROFILE_REGISTERS, label="Registers I enter here"))
        schema = probatio.Schema(
            {
                # The translation names the choices that are no profile (SunSpec, registers).
                probatio.Required(CONF_PROFILE): SelectSelector(
                    SelectSelectorConfig(
                        options=options,
                        translation_key="modbus_profile",
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                )
            }
        )
        broken = "; ".join(_reason(err) for err in library.errors[:MAX_BROKEN])
        return schema, broken or "-"

    async def async_step_modbus_profile(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the device's profile, read the device once, and add it."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = {**self._modbus.data, CONF_PROFILE: user_input[CONF_PROFILE]}
            if data[CONF_PROFILE] == PROFILE_REGISTERS:
                self._modbus.data = data
                self._modbus.registers = []
                return await self.async_step_modbus_register()
            try:
                title = await _async_check(self.hass, data)
            except FlowError as err:
                errors["base"] = err.key
                placeholders = err.placeholders
            else:
                return self.async_create_entry(title=title, data=data)
        schema, broken = await self._profile_form()
        return self.async_show_form(
            step_id="modbus_profile",
            data_schema=self.add_suggested_values_to_schema(schema, user_input),
            errors=errors,
            description_placeholders={
                **placeholders,
                "unit": device_key(self._modbus.data),
                "broken": broken,
            },
        )

    async def async_step_modbus_register(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """One register of a device described by hand; read with those before it."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        state = self._modbus
        if user_input is not None:
            register, errors = register_from_form(user_input, {r.key for r in state.registers})
            if not errors:
                registers = [*state.registers, register]
                try:
                    state.title = await _async_check(
                        self.hass, state.data, {CONF_REGISTERS: [r.as_dict() for r in registers]}
                    )
                except FlowError as err:
                    errors["base"] = err.key
                    placeholders = err.placeholders
                else:
                    state.registers = registers
                    return await self.async_step_modbus_register_more()
        return self.async_show_form(
            step_id="modbus_register",
            data_schema=self.add_suggested_values_to_schema(REGISTER_SCHEMA, user_input),
            errors=errors,
            description_placeholders={
                **placeholders,
                "unit": device_key(state.data),
                "registers": registers_list(state.registers),
            },
        )

    async def async_step_modbus_register_more(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Another register, or done (no more once the device has the most it may have)."""
        registers = self._modbus.registers
        more = ["modbus_register"] if len(registers) < MAX_REGISTERS else []
        return self.async_show_menu(
            step_id="modbus_register_more",
            menu_options=[*more, "modbus_registers_done"],
            description_placeholders={"registers": registers_list(registers)},
        )

    async def async_step_modbus_registers_done(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add the device with the registers entered (each was read already)."""
        state = self._modbus
        return self.async_create_entry(
            title=state.title,
            data=state.data,
            options={CONF_REGISTERS: [register.as_dict() for register in state.registers]},
        )

    async def async_step_modbus_reconfigure_network(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The reconfigure form of a device reached over TCP."""
        return await self._async_modbus_reconfigure(self._get_reconfigure_entry(), user_input)

    async def async_step_modbus_reconfigure_serial(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The reconfigure form of a device on a serial line."""
        return await self._async_modbus_reconfigure(self._get_reconfigure_entry(), user_input)

    async def _async_modbus_reconfigure(
        self, entry: ConfigEntry[Any], user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Change the device's link settings or unit id; it is read again before saving."""
        serial = entry.data[CONF_CONNECTION] == MODBUS_SERIAL
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, **_typed(user_input)}
            await self.async_set_unique_id(device_key(data), raise_on_progress=False)
            if self.unique_id != entry.unique_id:
                self._abort_if_unique_id_configured()
            try:
                await _async_check(self.hass, data, entry.options)
            except FlowError as err:
                errors["base"] = err.key
                placeholders = err.placeholders
            else:
                return self.async_update_reload_and_abort(
                    entry, unique_id=self.unique_id, data=data
                )
        keys = SERIAL_KEYS if serial else NETWORK_KEYS
        return self.async_show_form(
            step_id="modbus_reconfigure_serial" if serial else "modbus_reconfigure_network",
            data_schema=self.add_suggested_values_to_schema(
                SERIAL_SCHEMA if serial else NETWORK_SCHEMA,
                user_input or {key: _shown(key, entry.data[key]) for key in keys},
            ),
            errors=errors,
            description_placeholders=placeholders,
        )


def _shown(key: str, value: Any) -> Any:
    """A stored value as its form shows it (the line settings' dropdowns hold strings)."""
    return str(value) if key in (CONF_BAUDRATE, CONF_BYTESIZE, CONF_STOPBITS) else value


async def _async_check(
    hass: Any, data: Mapping[str, Any], options: Mapping[str, Any] | None = None
) -> str:
    """Read the device once; its title, or the form error naming what is wrong."""
    try:
        td = await async_test_read(hass, data, options or {})
    except (WotError, HomeAssistantError) as err:  # fmt: skip
        raise modbus_flow_error(err) from err
    return td.title


class ModbusOptionsFlow(OptionsFlowWithReload):
    """Options of a Modbus device: its scan interval, optional groups and entered registers."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The Modbus device's options (a step of its own: ``init`` is a Thing's)."""
        if self.config_entry.data[CONF_PROFILE] == PROFILE_REGISTERS:
            return await self.async_step_modbus_menu()
        return await self.async_step_modbus(user_input)

    async def async_step_modbus_menu(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A device described by hand: its scan interval, or add or remove registers."""
        return self.async_show_menu(
            step_id="modbus_menu",
            menu_options=["modbus", "modbus_add_register", "modbus_remove_registers"],
            description_placeholders={"registers": registers_list(self._registers())},
        )

    def _registers(self) -> list[Register]:
        """The registers stored in the entry (a list that no longer reads is taken as none)."""
        try:
            return stored_registers(self.config_entry.options)
        except WotValidationError:
            return []

    async def async_step_modbus_add_register(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """One more register, read with the others before it is saved."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        registers = self._registers()
        if len(registers) >= MAX_REGISTERS:
            return self.async_abort(reason="modbus_registers_full")
        if user_input is not None:
            register, errors = register_from_form(user_input, {r.key for r in registers})
            if not errors:
                options = {
                    **self.config_entry.options,
                    CONF_REGISTERS: [r.as_dict() for r in [*registers, register]],
                }
                try:
                    await _async_check(self.hass, self.config_entry.data, options)
                except FlowError as err:
                    errors["base"] = err.key
                    placeholders = err.placeholders
                else:
                    return self.async_create_entry(data=options)
        return self.async_show_form(
            step_id="modbus_add_register",
            data_schema=self.add_suggested_values_to_schema(REGISTER_SCHEMA, user_input),
            errors=errors,
            description_placeholders={**placeholders, "registers": registers_list(registers)},
        )

    async def async_step_modbus_remove_registers(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Remove registers, and their entities from the entity registry; one must stay."""
        errors: dict[str, str] = {}
        registers = self._registers()
        if user_input is not None:
            removed = set(user_input[CONF_REGISTERS])
            kept = [register for register in registers if register.key not in removed]
            if not kept:
                errors["base"] = "modbus_registers_none_left"
            else:
                self._remove_entities(removed)
                return self.async_create_entry(
                    data={
                        **self.config_entry.options,
                        CONF_REGISTERS: [register.as_dict() for register in kept],
                    }
                )
        choices = [
            SelectOptionDict(value=register.key, label=register.label) for register in registers
        ]
        return self.async_show_form(
            step_id="modbus_remove_registers",
            data_schema=probatio.Schema(
                {
                    probatio.Required(CONF_REGISTERS, default=[]): SelectSelector(
                        SelectSelectorConfig(
                            options=choices, multiple=True, mode=SelectSelectorMode.LIST
                        )
                    )
                }
            ),
            errors=errors,
        )

    def _remove_entities(self, keys: set[str]) -> None:
        """Take the entities of the registers ``keys`` out of the entity registry."""
        registry = er.async_get(self.hass)
        prefix = f"{thing_key(self.config_entry.data)}_property:"
        for entity in er.async_entries_for_config_entry(registry, self.config_entry.entry_id):
            if entity.unique_id.startswith(prefix) and entity.unique_id[len(prefix) :] in keys:
                registry.async_remove(entity.entity_id)

    async def async_step_modbus(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """The scan interval, and which of the profile's optional affordances to read."""
        if user_input is not None:
            return self.async_create_entry(
                data={
                    **self.config_entry.options,
                    **user_input,
                    CONF_SCAN_SECONDS: int(user_input[CONF_SCAN_SECONDS]),
                }
            )
        fields: dict[Any, Any] = {
            probatio.Required(CONF_SCAN_SECONDS, default=DEFAULT_MODBUS_SCAN_SECONDS): (
                NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_MODBUS_SCAN_SECONDS,
                        max=MAX_MODBUS_SCAN_SECONDS,
                        step=1,
                        unit_of_measurement="s",
                        mode=NumberSelectorMode.BOX,
                    )
                )
            )
        }
        optional = await self._optional_affordances()
        if optional:
            fields[probatio.Optional(CONF_OPTIONAL, default=[])] = SelectSelector(
                SelectSelectorConfig(options=optional, multiple=True, mode=SelectSelectorMode.LIST)
            )
        return self.async_show_form(
            step_id="modbus",
            data_schema=self.add_suggested_values_to_schema(
                probatio.Schema(fields), self.config_entry.options
            ),
        )

    async def _optional_affordances(self) -> list[str]:
        """The profile's ``tm:optional`` affordances (none for SunSpec)."""
        profile = self.config_entry.data[CONF_PROFILE]
        if profile in (PROFILE_SUNSPEC, PROFILE_REGISTERS):
            return []
        library = await self.hass.async_add_executor_job(
            profile_library, user_profile_dir(self.hass)
        )
        model = library.profiles.get(profile)
        if model is None:
            return []
        return sorted(name for _kind, name in model.optional_affordances().values())
