"""A Modbus device inside Home Assistant: a Web of Things Thing whose forms speak Modbus.

The device's Thing Description comes from a Thing Model profile (a shipped one or the user's,
instantiated with the device's address), from registers the user entered by hand (the shipped
generic one-register model instantiated once per register, the registers kept in the entry's
options) or, for a SunSpec device, from its own SunSpec models.
From then on it is a Thing like any other: the same coordinator, the same TD→entity mapping,
the same actions and diagnostics (:mod:`.coordinator`, :mod:`.entity`).

The link to the device is Home Assistant's, not ThingBridge's: ``async_get_unit`` of Home
Assistant's modbus integration hands out a unit on a connection shared by every integration
that asks with the same link settings, so ThingBridge and, say, a core device integration
read one gateway that accepts a single client over one connection. (The manifest's
``"dependencies": ["modbus"]`` makes Home Assistant set that integration up first and install
its requirements, as core's Modbus device integrations do.) A dropped link re-establishes
itself on the next request: the entry is never reloaded for it.

Each poll reads every readable property as one plan (the library's), except those read within
their ``modv:pollingTime`` (settings, serial numbers): a block the device refuses leaves its
properties unavailable and the others updating. A device that answers
nothing is unavailable (logged once, by the coordinator), and after
:data:`...const.MODBUS_SILENT_ISSUE_AFTER` a repair issue says so, removed when it answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, override

from homeassistant.components.modbus import async_get_temporary_unit, async_get_unit
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryError,
    ConfigEntryNotReady,
    HomeAssistantError,
)
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util
from modbus_connection import (
    ModbusError,
    ModbusSerialParams,
    ModbusTcpParams,
    ModbusTimeoutError,
    ModbusUnit,
)
from modbus_connection.model.sunspec.errors import SunSpecError

from ...const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_CONNECTION,
    CONF_DEVICE,
    CONF_OPTIONAL,
    CONF_PARITY,
    CONF_PROFILE,
    CONF_REGISTERS,
    CONF_SCAN_SECONDS,
    CONF_STOPBITS,
    CONF_UNIT_ID,
    DEFAULT_MODBUS_PORT,
    DEFAULT_MODBUS_SCAN_SECONDS,
    DOMAIN,
    LOGGER,
    MODBUS_RTU_OVER_TCP,
    MODBUS_SERIAL,
    MODBUS_SILENT_ISSUE_AFTER,
    PROFILE_REGISTERS,
    PROFILE_SUNSPEC,
    USER_PROFILE_DIR,
)
from ...wot import (
    GENERIC_PROFILE,
    SHIPPED_PROFILES,
    SUNSPEC_BASES,
    ActionResult,
    ModbusLink,
    ModbusThingClient,
    ProfileLibrary,
    ReadResult,
    Register,
    ThingDescription,
    ThingModel,
    ThingModelError,
    WotConnectionError,
    WotError,
    WotResponseError,
    WotTimeoutError,
    WotValidationError,
    detect_sunspec,
    instantiate,
    parse_td,
    placeholders,
    registers_td,
    sunspec_td,
)
from .coordinator import (
    WotConfigEntry,
    WotRuntime,
    WotThingCoordinator,
    async_remove_stale_entities,
)

type ModbusParams = ModbusTcpParams | ModbusSerialParams

# The line speed Home Assistant's modbus gives RTU carried over TCP (its ``_canonical``): the
# same settings reach the same shared connection, different ones are refused.
RTU_OVER_TCP_BAUDRATE = 115200
# How many of a failing block's properties a log line names.
MAX_NAMED = 5


def link_params(data: Mapping[str, Any]) -> ModbusParams:
    """The link settings of an entry's (or a flow's) data, as Home Assistant's modbus takes them."""
    connection = data[CONF_CONNECTION]
    if connection == MODBUS_SERIAL:
        return ModbusSerialParams(
            device=data[CONF_DEVICE],
            baudrate=int(data[CONF_BAUDRATE]),
            bytesize=int(data[CONF_BYTESIZE]),  # type: ignore[arg-type]  # the form's choices
            parity=data[CONF_PARITY],
            stopbits=int(data[CONF_STOPBITS]),  # type: ignore[arg-type]  # the form's choices
        )
    host, port = str(data[CONF_HOST]), int(data[CONF_PORT])
    if connection == MODBUS_RTU_OVER_TCP:
        address = f"[{host}]" if ":" in host else host
        return ModbusSerialParams(
            device=f"socket://{address}:{port}", framer="rtu", baudrate=RTU_OVER_TCP_BAUDRATE
        )
    return ModbusTcpParams(host=host, port=port)


def device_key(data: Mapping[str, Any]) -> str:
    """The entry's unique ID: ``host:port:unit`` (``serial-device:unit`` on a serial line)."""
    if data[CONF_CONNECTION] == MODBUS_SERIAL:
        return f"{data[CONF_DEVICE]}:{int(data[CONF_UNIT_ID])}"
    return f"{str(data[CONF_HOST]).lower()}:{int(data[CONF_PORT])}:{int(data[CONF_UNIT_ID])}"


def thing_key(data: Mapping[str, Any]) -> str:
    """The key of the device's Thing (its device identifier, its entities' unique ID prefix)."""
    return f"modbus:{device_key(data)}"


def user_profile_dir(hass: HomeAssistant) -> str:
    """The folder of the user's own Thing Models."""
    return hass.config.path(USER_PROFILE_DIR)


# The placeholders a profile may have: the device's address. (A profile with others is not
# offered as a device's profile; the generic one-register model is instantiated once per
# register when the user enters the registers by hand: :func:`registers_profile_td`.)
DEVICE_PLACEHOLDERS = frozenset({"HOST", "PORT", "UNIT_ID"})


def _template_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """The values of a profile's placeholders for this device.

    The forms' address is informative only: requests go to the unit Home Assistant hands out
    for the entry's link. A serial device has no host: its forms name the local host.
    """
    if data[CONF_CONNECTION] == MODBUS_SERIAL:
        host, port = "localhost", DEFAULT_MODBUS_PORT
    else:
        host, port = str(data[CONF_HOST]), int(data[CONF_PORT])
    return {"HOST": host, "PORT": port, "UNIT_ID": int(data[CONF_UNIT_ID])}


def registers_title(data: Mapping[str, Any]) -> str:
    """The title of a device described by registers entered by hand."""
    return f"Modbus {device_key(data)}"


def stored_registers(options: Mapping[str, Any]) -> list[Register]:
    """The registers entered by hand, as the entry's options keep them (checked).

    Raises:
        WotValidationError: the stored list is not one of registers (the path names it).
    """
    raw = options.get(CONF_REGISTERS, [])
    if not isinstance(raw, list):
        raise WotValidationError("$.registers", "expected a list of registers")
    return [Register.from_dict(item, f"$.registers[{index}]") for index, item in enumerate(raw)]


def registers_profile_td(data: Mapping[str, Any], options: Mapping[str, Any]) -> ThingDescription:
    """The TD of registers entered by hand (blocking: reads the shipped generic model).

    Raises:
        WotValidationError: no register, or a stored register that is wrong.
    """
    model = ProfileLibrary(SHIPPED_PROFILES).get(GENERIC_PROFILE)
    return parse_td(
        registers_td(
            model,
            _template_values(data),
            stored_registers(options),
            title=registers_title(data),
            thing_id=f"urn:thingbridge:{thing_key(data)}",
        )
    )


class ModbusRegisterError(WotResponseError):
    """A register entered by hand could not be read (the message names it)."""

    def __init__(self, td: ThingDescription, name: str, reason: str) -> None:
        """Name the register by its name, table and address."""
        prop = td.properties[name]
        form = next(form.modbus for form in prop.forms if form.modbus is not None)
        super().__init__(f"{prop.label} ({form.entity} {form.address}): {reason}")


class ModbusNotSunSpecError(WotValidationError):
    """The device was asked for SunSpec and answers without the SunSpec marker."""

    def __init__(self) -> None:
        """Say where the marker was looked for."""
        bases = ", ".join(str(base) for base in SUNSPEC_BASES)
        super().__init__("$", f"no SunSpec marker at registers {bases}")


def _link(data: Mapping[str, Any]) -> ModbusLink:
    """The device's link as the library names it in a TD's forms."""
    connection = data[CONF_CONNECTION]
    if connection == MODBUS_SERIAL:
        return ModbusLink(
            framing="rtu",
            device=str(data[CONF_DEVICE]),
            baudrate=int(data[CONF_BAUDRATE]),
            parity=str(data[CONF_PARITY]),
            stopbits=int(data[CONF_STOPBITS]),
            bytesize=int(data[CONF_BYTESIZE]),
        )
    host, port = str(data[CONF_HOST]), int(data[CONF_PORT])
    if connection == MODBUS_RTU_OVER_TCP:
        return ModbusLink(framing="rtu-over-tcp", host=host, port=port)
    return ModbusLink(framing="tcp", host=host, port=port)


async def async_sunspec_td(data: Mapping[str, Any], unit: ModbusUnit) -> ThingDescription:
    """Scan the device's SunSpec models; the TD they make (scale factors applied).

    Raises:
        ModbusNotSunSpecError: No SunSpec marker.
        WotTimeoutError: The unit did not answer.
        WotConnectionError: The link could not be opened.
        WotValidationError: A model chain that is broken after the marker.
    """
    try:
        device = await detect_sunspec(unit)
    except (ModbusTimeoutError, TimeoutError) as err:  # fmt: skip
        raise WotTimeoutError(f"SunSpec scan: {err}") from err
    except ModbusError as err:
        raise WotConnectionError(f"SunSpec scan: {err}") from err
    except SunSpecError as err:
        raise WotValidationError("$", f"SunSpec model chain: {err}") from err
    if device is None:
        raise ModbusNotSunSpecError
    return parse_td(sunspec_td(device, _link(data), int(data[CONF_UNIT_ID])))


def profile_library(user_dir: str) -> ProfileLibrary:
    """The shipped profiles and the user's (blocking: it reads both folders)."""
    return ProfileLibrary(SHIPPED_PROFILES, user_dir)


def device_profiles(library: ProfileLibrary) -> dict[str, ThingModel]:
    """The profiles a device can be added with: those that need only its address."""
    return {
        profile_id: model
        for profile_id, model in library.profiles.items()
        if placeholders(model.document) <= DEVICE_PLACEHOLDERS
    }


def profile_td(
    profile_id: str, user_dir: str, values: Mapping[str, Any], include: list[str]
) -> ThingDescription:
    """The TD of profile ``profile_id`` instantiated for one device (blocking: reads files).

    Raises:
        WotValidationError: The profile is missing or broken, or makes no TD with a register
            to read; the error names the file, the JSON path and the problem.
    """
    library = profile_library(user_dir)
    model = library.get(profile_id)
    path = library.path_of(profile_id)
    # Named as the user finds it: in the profiles folder of the configuration directory.
    source = f"{USER_PROFILE_DIR}/{path.name}" if model.user and path else str(profile_id)
    if path and not model.user:
        source = path.name
    try:
        td = parse_td(instantiate(model, values, include=include))
    except ThingModelError:
        raise
    except WotValidationError as err:
        raise ThingModelError(source, err.path, err.reason) from err
    if not any(form.modbus is not None for prop in td.properties.values() for form in prop.forms):
        reason = "no register ThingBridge can read"
        if td.skipped:
            reason += f" ({td.skipped[0]})"
        raise ThingModelError(source, "$.properties", reason)
    return td


async def async_thing_description(
    hass: HomeAssistant,
    data: Mapping[str, Any],
    options: Mapping[str, Any],
    unit: ModbusUnit,
) -> ThingDescription:
    """The device's TD: its profile instantiated for it, or what its SunSpec models say.

    Raises:
        WotError: The profile is broken (naming the file, the JSON path and the problem),
            the device is not a SunSpec device, or it did not answer.
    """
    if data[CONF_PROFILE] == PROFILE_SUNSPEC:
        return await async_sunspec_td(data, unit)
    if data[CONF_PROFILE] == PROFILE_REGISTERS:
        return await hass.async_add_executor_job(registers_profile_td, data, options)
    return await hass.async_add_executor_job(
        profile_td,
        data[CONF_PROFILE],
        user_profile_dir(hass),
        _template_values(data),
        list(options.get(CONF_OPTIONAL, [])),
    )


async def async_test_read(
    hass: HomeAssistant, data: Mapping[str, Any], options: Mapping[str, Any]
) -> ThingDescription:
    """Build the device's TD and read it once, on a unit held for the flow only.

    Raises:
        HomeAssistantError: The device is in use over other link settings.
        WotError: As :func:`async_thing_description`; when nothing answered, the error of
            reading the first property alone (a timeout: the unit is silent; a connection
            error: the link could not be opened; an exception response). Registers entered by
            hand must all answer: :class:`ModbusRegisterError` names the first that did not.
    """
    by_hand = data[CONF_PROFILE] == PROFILE_REGISTERS
    async with async_get_temporary_unit(hass, link_params(data), int(data[CONF_UNIT_ID])) as unit:
        td = await async_thing_description(hass, data, options, unit)
        client = ModbusThingClient(td, unit)
        if not client.readable:
            raise WotValidationError("$.properties", "the profile has no readable register")
        result = await client.read_all(everything=True)
        if not result.values:
            # Which of "cannot connect", "no answer" and "refused" it was: ask once more,
            # for one property, which raises the typed error.
            try:
                await client.read_property(client.readable[0])
            except WotResponseError as err:
                if not by_hand:
                    raise
                raise ModbusRegisterError(td, client.readable[0], str(err)) from err
        if by_hand and result.errors:
            name = next(name for name in td.properties if name in result.errors)
            raise ModbusRegisterError(td, name, result.errors[name])
    return td


class ModbusClientAdapter:
    """A Modbus Thing's client as the coordinator speaks to a Thing's (:class:`ThingClient`)."""

    def __init__(self, client: ModbusThingClient) -> None:
        """Wrap ``client``."""
        self.modbus = client

    @property
    def td(self) -> ThingDescription:
        """The Thing Description."""
        return self.modbus.td

    async def read_property(self, name: str) -> Any:
        """One property's value (one request plan of its own)."""
        return await self.modbus.read_property(name)

    async def read_all_properties(self) -> dict[str, Any]:
        """Every readable property's value that answered."""
        return (await self.modbus.read_all(everything=True)).values

    async def write_property(self, name: str, value: Any) -> None:
        """Write one property, checked against its schema before any request."""
        await self.modbus.write_property(name, value)

    async def invoke_action(self, name: str, action_input: Any = None) -> ActionResult:
        """Modbus Things have no actions."""
        raise WotValidationError(f"$.actions.{name}", "no such action")


class ModbusThingCoordinator(WotThingCoordinator):
    """Polls one Modbus device: all its properties as one plan per scan interval."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: WotConfigEntry,
        td: ThingDescription,
        key: str,
        client: ModbusThingClient,
    ) -> None:
        """Poll ``td``'s properties through ``client`` (on the entry's unit)."""
        seconds = int(entry.options.get(CONF_SCAN_SECONDS, DEFAULT_MODBUS_SCAN_SECONDS))
        super().__init__(
            hass,
            entry,
            td,
            key,
            None,
            client=ModbusClientAdapter(client),
            update_interval=timedelta(seconds=seconds),
        )
        self.modbus = client
        self.last_report: ReadResult | None = None
        self.last_answer = dt_util.utcnow()
        self._issue_raised = False
        self._failing: dict[str, str] = {}

    @property
    def issue_id(self) -> str:
        """The repair issue raised while the device does not answer."""
        return f"modbus_silent_{self.config_entry.entry_id}"

    @override
    async def _async_update_data(self) -> dict[str, Any]:
        """Read every property as one plan; fail only when nothing answered."""
        report = await self.modbus.read_all()
        self.last_report = report
        failed = set(report.errors) - set(self.modbus.unusable)
        if not report.values and failed:
            self._check_silence()
            reason = next(text for name, text in report.errors.items() if name in failed)
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="thing_unreachable",
                translation_placeholders={"title": self.td.title, "error": reason},
            )
        if report.requests:
            self.last_answer = dt_util.utcnow()
        if self._issue_raised:
            ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
            self._issue_raised = False
        self._log_failing(report.errors)
        self.unavailable_properties = frozenset(report.errors)
        return {**(self.data or {}), **report.values}

    def _log_failing(self, errors: Mapping[str, str]) -> None:
        """Log a property failing once when it starts, and once when it answers again."""
        started = sorted(set(errors) - set(self._failing))
        recovered = sorted(set(self._failing) - set(errors))
        if started:
            LOGGER.warning(
                "%s: %s unavailable: %s",
                self.td.title,
                ", ".join(started[:MAX_NAMED]) + (" …" if len(started) > MAX_NAMED else ""),
                errors[started[0]],
            )
        if recovered:
            LOGGER.info("%s: %s answering again", self.td.title, ", ".join(recovered[:MAX_NAMED]))
        self._failing = dict(errors)

    @callback
    def _check_silence(self) -> None:
        """Raise the repair issue once the device has been silent for long enough."""
        silent = dt_util.utcnow() - self.last_answer
        if self._issue_raised or silent < MODBUS_SILENT_ISSUE_AFTER:
            return
        self._issue_raised = True
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            self.issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="modbus_silent",
            translation_placeholders={
                "title": self.config_entry.title,
                "minutes": str(int(silent.total_seconds() // 60)),
            },
        )

    @override
    def extra_diagnostics(self) -> dict[str, Any]:
        """The raw registers of the last poll, and what failed in it."""
        report = self.last_report
        return {
            "modbus": {
                "last_answer": self.last_answer.isoformat(),
                "unavailable_properties": sorted(self.unavailable_properties),
                "last_poll": _poll_diagnostics(report) if report is not None else None,
            }
        }

    @override
    async def async_shutdown(self) -> None:
        """Stop polling; the issue goes with the entry."""
        ir.async_delete_issue(self.hass, DOMAIN, self.issue_id)
        await super().async_shutdown()


async def async_setup_modbus_device(hass: HomeAssistant, entry: WotConfigEntry) -> None:
    """Take a unit on Home Assistant's shared link, build the TD and start polling."""
    runtime = entry.runtime_data = WotRuntime(push_session=None)
    try:
        unit = async_get_unit(hass, entry, link_params(entry.data), int(entry.data[CONF_UNIT_ID]))
    except HomeAssistantError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="modbus_link_in_use",
            translation_placeholders={"error": str(err)},
        ) from err
    try:
        td = await async_thing_description(hass, entry.data, entry.options, unit)
    except WotConnectionError as err:
        # A SunSpec device builds its TD from what it answers: not yet, then.
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="thing_unreachable",
            translation_placeholders={"title": entry.title, "error": str(err)},
        ) from err
    except WotError as err:
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="modbus_profile",
            translation_placeholders={"title": entry.title, "error": str(err)},
        ) from err
    key = thing_key(entry.data)
    coordinator = ModbusThingCoordinator(hass, entry, td, key, ModbusThingClient(td, unit))
    # Entities of registers removed (or optional groups left out) go from the registry.
    async_remove_stale_entities(hass, entry, coordinator)
    await coordinator.async_config_entry_first_refresh()
    runtime.things[key] = coordinator


def _poll_diagnostics(report: ReadResult) -> dict[str, Any]:
    """A poll as the diagnostics show it: requests, values, errors and the raw registers."""
    return {
        "requests": report.requests,
        "values": report.values,
        "errors": report.errors,
        # Not read by that poll: read again once their modv:pollingTime has passed.
        "waiting": report.waiting,
        # {"holding": {"40001": 17, ...}}: JSON keys are strings.
        "registers": {
            space: {str(address): value for address, value in sorted(words.items())}
            for space, words in report.raw.items()
        },
    }
