"""The GPS tracker steps of the config flow, the gateway's options flow, the tracker subentry flow.

The gateway is one entry per Home Assistant: the protocols to accept, each on its port (Traccar's
by default), the listen address, lenient checksums and the silence after which a tracker is
offline; the ports it needs are bound briefly to check they are free before the entry is created
(and again when the options change them); its unique ID is set only then. Each tracker is a config subentry of the gateway, added by hand (subentry flow) or from
discovery: a tracker the gateway does not know raises an ``integration_discovery`` flow whose
confirmation adds the subentry to the gateway entry (a subentry flow cannot be started by
discovery, so the config flow adds it with ``async_add_subentry`` and ends with an abort that
says so).

:class:`TrackerSteps` is a mixin of the integration's config flow; the tracker it offers is kept
in one :class:`TrackerFlowState`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import ipaddress
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import CONF_NAME
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
from homeassistant.helpers.typing import DiscoveryInfoType
import probatio

from ...const import (
    CONF_DEVICE_ID,
    CONF_KIND,
    CONF_LENIENT,
    CONF_LISTEN_HOST,
    CONF_OFFLINE_MINUTES,
    CONF_PROTOCOL,
    CONF_PROTOCOLS,
    CONF_TRACCAR_TOPIC,
    DEFAULT_LISTEN_HOST,
    DOMAIN,
    KIND_TRACKER_GATEWAY,
    MAX_OFFLINE_MINUTES,
    SUBENTRY_TRACKER,
    TRACKER_GATEWAY_UNIQUE_ID,
    TRACKER_PROTOCOL_LABELS,
    TRACKER_PROTOCOLS,
    TRACKER_SOURCE_TRACCAR,
    TRACKER_SOURCES,
)
from ...m2m import GatewayError, valid_device_id
from ..flow import FlowError
from .discovery import discovery_unique_id, tracker_key
from .runtime import (
    GatewaySettings,
    async_check_ports,
    default_ports,
    port_error_key,
    port_error_placeholders,
)

PROTOCOLS_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=list(TRACKER_PROTOCOLS),
        multiple=True,
        mode=SelectSelectorMode.LIST,
        translation_key="tracker_protocol",
    )
)
PROTOCOL_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=list(TRACKER_PROTOCOLS),
        mode=SelectSelectorMode.DROPDOWN,
        translation_key="tracker_protocol",
    )
)
OFFLINE_SELECTOR = NumberSelector(
    NumberSelectorConfig(
        min=1, max=MAX_OFFLINE_MINUTES, step=1, mode=NumberSelectorMode.BOX,
        unit_of_measurement="min",
    )
)  # fmt: skip
# 0 lets the system pick a free port: only useful for tests, as devices need a fixed one.
PORT_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=0, max=65535, step=1, mode=NumberSelectorMode.BOX)
)


def _port_key(protocol: str) -> str:
    return f"port_{protocol}"


def _protocols(user_input: Mapping[str, Any]) -> tuple[str, ...]:
    chosen = set(user_input.get(CONF_PROTOCOLS) or ())
    return tuple(p for p in TRACKER_PROTOCOLS if p in chosen)


def _port_placeholders(placeholders: Mapping[str, str]) -> dict[str, str]:
    """Every placeholder the port errors name (empty when there is no error)."""
    return {key: placeholders.get(key, "") for key in ("protocol", "transport", "port", "error")}


class PortError(FlowError):
    """A port cannot be bound: shown at that protocol's port field."""

    def __init__(self, err: GatewayError) -> None:
        """Name the protocol's port field, the error's key and what its text names."""
        super().__init__(port_error_key(err), port_error_placeholders(err))
        self.field = _port_key(err.protocol)


MAX_TOPIC_LENGTH = 256


def _check_topic(topic: str) -> None:
    """An MQTT subscription filter: ``+`` a whole level, ``#`` only the whole last one.

    Raises:
        FlowError: ``invalid_topic``.
    """
    levels = topic.split("/")
    if (
        len(topic) > MAX_TOPIC_LENGTH
        or not topic.isprintable()
        or any("+" in level and level != "+" for level in levels)
        or any(
            "#" in level and (level != "#" or i != len(levels) - 1)
            for i, level in enumerate(levels)
        )
    ):
        raise FlowError("invalid_topic")


def _errors(err: FlowError) -> dict[str, str]:
    """The form's errors for ``err``: at the port field it names, else for the whole form."""
    field = err.field if isinstance(err, PortError) and err.key == "port_in_use" else "base"
    return {field: err.key}


def _gateway_settings(user_input: Mapping[str, Any]) -> GatewaySettings:
    """The settings the gateway form (first step or options) was submitted with."""
    return GatewaySettings(
        protocols=_protocols(user_input),
        ports=MappingProxyType({p: int(user_input[_port_key(p)]) for p in TRACKER_PROTOCOLS}),
        host=str(user_input[CONF_LISTEN_HOST]).strip(),
        lenient=bool(user_input[CONF_LENIENT]),
        offline_minutes=int(user_input[CONF_OFFLINE_MINUTES]),
        traccar_topic=str(user_input.get(CONF_TRACCAR_TOPIC) or "").strip(),
    )


def _gateway_form(settings: GatewaySettings) -> tuple[probatio.Schema, dict[str, Any]]:
    """The gateway form's fields (first step and options alike) and their values from ``settings``."""
    fields: dict[Any, Any] = {probatio.Required(CONF_PROTOCOLS): PROTOCOLS_SELECTOR}
    fields.update({probatio.Required(_port_key(p)): PORT_SELECTOR for p in TRACKER_PROTOCOLS})
    fields[probatio.Required(CONF_LISTEN_HOST)] = TextSelector()
    fields[probatio.Required(CONF_LENIENT)] = BooleanSelector()
    fields[probatio.Required(CONF_OFFLINE_MINUTES)] = OFFLINE_SELECTOR
    fields[probatio.Optional(CONF_TRACCAR_TOPIC)] = TextSelector()
    values = {
        CONF_PROTOCOLS: list(settings.protocols),
        **{_port_key(p): settings.ports[p] for p in TRACKER_PROTOCOLS},
        CONF_LISTEN_HOST: settings.host,
        CONF_LENIENT: settings.lenient,
        CONF_OFFLINE_MINUTES: settings.offline_minutes,
        CONF_TRACCAR_TOPIC: settings.traccar_topic,
    }
    return probatio.Schema(fields), values


async def _async_validate_gateway(
    settings: GatewaySettings, mqtt_loaded: bool, held: frozenset[int] = frozenset()
) -> None:
    """Check the settings and that their ports can be bound.

    Args:
        settings: The submitted settings.
        mqtt_loaded: Whether Home Assistant's MQTT integration is set up (the Traccar topic
            needs it).
        held: The ports this gateway listens on now.

    Raises:
        FlowError: What is wrong (no protocol nor Traccar topic, a bad topic, no MQTT, a port
            twice, a bad address); a :class:`PortError` when a port cannot be bound.
    """
    if not settings.protocols and not settings.traccar_topic:
        raise FlowError("no_protocols")
    if settings.traccar_topic:
        _check_topic(settings.traccar_topic)
        if not mqtt_loaded:
            raise FlowError("mqtt_not_set_up")
    try:
        ipaddress.ip_address(settings.host)
    except ValueError as err:
        raise FlowError("invalid_host") from err
    seen: dict[int, str] = {}
    for protocol, port in settings.listen_ports.items():
        if port and port in seen:
            raise FlowError(
                "duplicate_port",
                {"port": str(port), "protocol": TRACKER_PROTOCOL_LABELS[protocol]},
            )
        seen[port] = protocol
    try:
        await async_check_ports(settings.host, settings.listen_ports, held=held)
    except GatewayError as err:
        raise PortError(err) from err


def _default_name(protocol: str, device_id: str) -> str:
    return f"{TRACKER_PROTOCOL_LABELS[protocol]} {device_id}"


def _check_device_id(protocol: str, text: str) -> str:
    """``text`` stripped, when it is a device ID the protocol can send.

    The library's rule, the one its decoders apply to what devices send.
    """
    device_id = text.strip()
    if not valid_device_id(protocol, device_id):
        raise FlowError("invalid_device_id")
    return device_id


def _has_tracker(entry: ConfigEntry[Any], protocol: str, device_id: str) -> bool:
    key = tracker_key(protocol, device_id)
    return any(s.unique_id == key for s in entry.subentries.values())


@dataclass
class TrackerFlowState:
    """The tracker a discovery flow offers."""

    protocol: str = ""
    device_id: str = ""


class TrackerSteps(ConfigFlow):
    """The config flow's GPS tracker steps (a mixin of the integration's config flow)."""

    def __init__(self) -> None:
        """Start with no tracker offered."""
        super().__init__()
        self._trackers = TrackerFlowState()

    def _gateway_entry(self) -> ConfigEntry[Any] | None:
        return self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, TRACKER_GATEWAY_UNIQUE_ID
        )

    async def async_step_tracker_gateway(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set up the GPS tracker gateway: protocols, their ports, listen address, behaviour.

        The gateway's unique ID is set only when the entry is created: a form left open (a
        closed browser tab) must not block the next attempt until Home Assistant restarts.
        """
        if self._gateway_entry() is not None:
            return self.async_abort(reason="gateway_exists")
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            settings = _gateway_settings(user_input)
            try:
                await _async_validate_gateway(settings, "mqtt" in self.hass.config.components)
            except FlowError as err:
                errors = _errors(err)
                placeholders = err.placeholders
            else:
                # another form may have created the gateway while the ports were checked
                await self.async_set_unique_id(TRACKER_GATEWAY_UNIQUE_ID, raise_on_progress=False)
                self._abort_if_unique_id_configured(error="gateway_exists")
                return self.async_create_entry(
                    title="GPS trackers",
                    data={CONF_KIND: KIND_TRACKER_GATEWAY},
                    options=settings.as_options(),
                )
        schema, defaults = _gateway_form(
            GatewaySettings(
                protocols=TRACKER_PROTOCOLS,
                ports=MappingProxyType(default_ports()),
                host=DEFAULT_LISTEN_HOST,
            )
        )
        return self.async_show_form(
            step_id="tracker_gateway",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or defaults),
            errors=errors,
            description_placeholders=_port_placeholders(placeholders),
        )

    async def _async_tracker_discovery(self, discovery_info: DiscoveryInfoType) -> ConfigFlowResult:
        """The gateway heard from a tracker nobody added: offer to add it."""
        protocol = str(discovery_info.get(CONF_PROTOCOL, ""))
        device_id = str(discovery_info.get(CONF_DEVICE_ID, ""))
        if protocol not in TRACKER_SOURCES or not valid_device_id(protocol, device_id):
            return self.async_abort(reason="invalid_discovery_info")
        gateway = self._gateway_entry()
        if gateway is None:
            return self.async_abort(reason="no_gateway")
        if _has_tracker(gateway, protocol, device_id):
            return self.async_abort(reason="already_configured")
        await self.async_set_unique_id(discovery_unique_id(protocol, device_id))
        self._abort_if_unique_id_configured()  # the user chose to ignore this tracker
        self._trackers = TrackerFlowState(protocol, device_id)
        self.context["title_placeholders"] = {
            # the discovery card's title (flow_title is one for every kind; a Thing's shows
            # its title): "New GPS tracker 356307042441013 (Teltonika)"
            "name": f"New GPS tracker {device_id} ({TRACKER_PROTOCOL_LABELS[protocol]})"
        }
        return await self.async_step_tracker_confirm()

    async def _async_gateway_reconfigure(self) -> ConfigFlowResult:
        """The gateway has no URL to change; its settings are in its options."""
        return self.async_abort(reason="gateway_reconfigure")

    async def async_step_tracker_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask whether to add the discovered tracker (and how to name it)."""
        protocol, device_id = self._trackers.protocol, self._trackers.device_id
        if user_input is not None:
            gateway = self._gateway_entry()
            if gateway is None:
                return self.async_abort(reason="no_gateway")
            name = str(user_input.get(CONF_NAME) or "").strip() or _default_name(
                protocol, device_id
            )
            self.hass.config_entries.async_add_subentry(
                gateway,
                ConfigSubentry(
                    data=MappingProxyType({CONF_PROTOCOL: protocol, CONF_DEVICE_ID: device_id}),
                    subentry_type=SUBENTRY_TRACKER,
                    title=name,
                    unique_id=tracker_key(protocol, device_id),
                ),
            )
            return self.async_abort(reason="tracker_added", description_placeholders={"name": name})
        schema = probatio.Schema({probatio.Optional(CONF_NAME): TextSelector()})
        return self.async_show_form(
            step_id="tracker_confirm",
            data_schema=self.add_suggested_values_to_schema(
                schema, {CONF_NAME: _default_name(protocol, device_id)}
            ),
            description_placeholders={
                "device_id": device_id,
                "protocol": TRACKER_PROTOCOL_LABELS[protocol],
            },
        )


class TrackerGatewayOptionsFlow(OptionsFlow):
    """The gateway's protocols, ports, listen address, lenient checksums and offline time.

    Not an ``OptionsFlowWithReload``: the gateway entry has an update listener (it follows its
    subentries), which reloads the entry when the options changed.
    """

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Open the gateway's options."""
        return await self.async_step_gateway()

    async def async_step_gateway(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the gateway's settings; the ports that change are checked first."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            settings = _gateway_settings(user_input)
            try:
                await _async_validate_gateway(
                    settings, "mqtt" in self.hass.config.components, self._held_ports()
                )
            except FlowError as err:
                errors = _errors(err)
                placeholders = err.placeholders
            else:
                return self.async_create_entry(data=settings.as_options())
        schema, current = _gateway_form(GatewaySettings.from_options(self.config_entry.options))
        return self.async_show_form(
            step_id="gateway",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or current),
            errors=errors,
            description_placeholders=_port_placeholders(placeholders),
        )

    def _held_ports(self) -> frozenset[int]:
        """The ports this gateway listens on now: free again once it restarts."""
        entry = self.config_entry
        if entry.state is not ConfigEntryState.LOADED:
            return frozenset()
        gateway = entry.runtime_data.gateway
        return frozenset(gateway.ports.values()) | frozenset(gateway.udp_ports.values())


class TrackerSubentryFlow(ConfigSubentryFlow):
    """Add a GPS tracker to the gateway by hand."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the tracker's protocol, device ID (IMEI) and name."""
        entry = self._get_entry()
        settings = GatewaySettings.from_options(entry.options)
        enabled = settings.protocols or (() if settings.traccar_topic else TRACKER_PROTOCOLS)
        if settings.traccar_topic:
            enabled = (*enabled, TRACKER_SOURCE_TRACCAR)
        errors: dict[str, str] = {}
        if user_input is not None:
            protocol = str(user_input[CONF_PROTOCOL])
            try:
                device_id = _check_device_id(protocol, str(user_input[CONF_DEVICE_ID]))
            except FlowError as err:
                errors[CONF_DEVICE_ID] = err.key
            else:
                if _has_tracker(entry, protocol, device_id):
                    return self.async_abort(reason="already_configured")
                name = str(user_input.get(CONF_NAME) or "").strip()
                return self.async_create_entry(
                    title=name or _default_name(protocol, device_id),
                    data={CONF_PROTOCOL: protocol, CONF_DEVICE_ID: device_id},
                    unique_id=tracker_key(protocol, device_id),
                )
        selector = SelectSelector(
            SelectSelectorConfig(
                options=list(enabled),
                mode=SelectSelectorMode.DROPDOWN,
                translation_key="tracker_protocol",
            )
        )
        schema = probatio.Schema(
            {
                probatio.Required(CONF_PROTOCOL): selector,
                probatio.Required(CONF_DEVICE_ID): TextSelector(),
                probatio.Optional(CONF_NAME): TextSelector(),
            }
        )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or {CONF_PROTOCOL: enabled[0]}
            ),
            errors=errors,
        )
