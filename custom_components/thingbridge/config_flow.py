"""Config flow for ThingBridge.

The first step is a menu of the kinds of entry ThingBridge creates. A Web of Things Thing is
added from the URL of its Thing Description; a WoT directory (or a WebThings server with several
Things) from its URL, its Things becoming devices of one entry. Both are also found by Home
Assistant's zeroconf discovery (``_wot._tcp``, ``_directory._sub._wot._tcp``, ``_webthing._tcp``).
Things that need credentials get a credentials step; reauthentication and reconfiguration are
supported.

Identity: a Thing's entry is identified by its TD's ``id`` (by its URL when the TD has none), a
directory's by its URL. Discovery of a known Thing at a new address updates the entry's URL; a
Thing that already belongs to ThingBridge (as an entry, or as a device of a directory entry) is
not added again.

The GPS tracker gateway is one entry per Home Assistant: the protocols to accept (each on
Traccar's port), lenient checksums and the silence after which a tracker is offline; the
ports it needs are bound briefly to check they are free before the entry is created (and
again when the options change them). Each tracker is a config subentry of the gateway, added
by hand (subentry flow) or from discovery: a tracker the gateway does not know raises an
``integration_discovery`` flow whose confirmation adds the subentry to the gateway entry (a
subentry flow cannot be started by discovery, so the config flow adds it with
``async_add_subentry`` and ends with an abort that says so).
"""

from __future__ import annotations

from collections.abc import Mapping
import contextlib
import ipaddress
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import (
    SOURCE_ZEROCONF,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentry,
    ConfigSubentryFlow,
    OptionsFlow,
    OptionsFlowWithReload,
    SubentryFlowResult,
)
from homeassistant.const import (
    CONF_API_KEY,
    CONF_NAME,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_URL,
    CONF_USERNAME,
)
from homeassistant.core import callback
from homeassistant.data_entry_flow import AbortFlow
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
from homeassistant.helpers.typing import DiscoveryInfoType
import probatio
from yarl import URL

from .const import (
    CONF_ALLOW_OTHER_HOSTS,
    CONF_DEVICE_ID,
    CONF_KIND,
    CONF_LENIENT,
    CONF_LISTEN_HOST,
    CONF_OFFLINE_MINUTES,
    CONF_PROTOCOL,
    CONF_PROTOCOLS,
    DEFAULT_LISTEN_HOST,
    DEFAULT_OFFLINE_MINUTES,
    DOMAIN,
    ENTRY_KINDS,
    KIND_TRACKER_GATEWAY,
    KIND_WOT_DIRECTORY,
    KIND_WOT_THING,
    MAX_OFFLINE_MINUTES,
    SUBENTRY_TRACKER,
    TRACKER_GATEWAY_UNIQUE_ID,
    TRACKER_PROTOCOL_LABELS,
    TRACKER_PROTOCOLS,
)
from .coordinator import credentials_from
from .kinds import device_identifier
from .m2m import GatewayError, valid_device_id
from .tracker_runtime import (
    GatewaySettings,
    async_check_ports,
    default_ports,
    discovery_unique_id,
    is_tracker_gateway,
    port_error_key,
    port_error_placeholders,
    tracker_key,
)
from .wot import (
    Credentials,
    ThingDescription,
    WotAuthError,
    WotClient,
    WotError,
    WotLimitError,
    WotResponseError,
    WotValidationError,
    explore,
    fetch_thing_description,
    is_directory,
    service_from_zeroconf,
)

URL_SCHEMA = probatio.Schema(
    {probatio.Required(CONF_URL): TextSelector(TextSelectorConfig(type=TextSelectorType.URL))}
)
SECRET = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
CREDENTIAL_KEYS = (CONF_USERNAME, CONF_PASSWORD, CONF_TOKEN, CONF_API_KEY)
# What the user types for each security scheme the WoT client can satisfy (wot/security.py).
SCHEME_KEYS: dict[str, tuple[str, ...]] = {
    "basic": (CONF_USERNAME, CONF_PASSWORD),
    "digest": (CONF_USERNAME, CONF_PASSWORD),
    "bearer": (CONF_TOKEN,),
    "oauth2": (CONF_TOKEN,),
    "apikey": (CONF_API_KEY,),
}
# Without a TD to read schemes from (the TD itself is protected, or a directory), only what a
# plain GET carries: HTTP basic or a bearer token.
PLAIN_KEYS = (CONF_USERNAME, CONF_PASSWORD, CONF_TOKEN)


class FlowError(Exception):
    """A problem to show in the form (or abort with): its translation key and placeholders."""

    def __init__(self, key: str, placeholders: Mapping[str, str] | None = None) -> None:
        """Keep the key (and what its text names)."""
        super().__init__(key)
        self.key = key
        self.placeholders = dict(placeholders or {})


def _check_url(text: str) -> str:
    """``text`` stripped, when it is an absolute http(s) URL with a host."""
    text = text.strip()
    try:
        url = URL(text)
    except ValueError as err:  # e.g. an unclosed IPv6 bracket, a port out of range
        raise FlowError("invalid_url") from err
    if url.scheme not in ("http", "https") or not url.host:
        raise FlowError("invalid_url")
    if url.user is not None or url.password is not None:
        # The URL is stored, shown in messages and logged: credentials go in their own step.
        raise FlowError("credentials_in_url")
    return text


def _error_key(err: WotError, creds: Credentials | None) -> str:
    """The translation key of a WoT library error."""
    if isinstance(err, WotAuthError):
        return "invalid_auth" if creds else "credentials_needed"
    if isinstance(err, WotValidationError):
        return "invalid_td"
    if isinstance(err, WotResponseError) and (err.status or 0) < 400:
        # It answered, but not with a Thing Description: not JSON, or too large.
        return "invalid_td"
    return "cannot_connect"


def _flow_error(err: WotError, creds: Credentials | None) -> FlowError:
    """The form error for a WoT library error (a TD over the affordance cap names both)."""
    if isinstance(err, WotLimitError) and err.count is not None:
        return FlowError("too_many_affordances", {"count": str(err.count), "limit": str(err.limit)})
    return FlowError(_error_key(err, creds))


def _unique_id(td: ThingDescription, url: str) -> str:
    return td.id or url


def _credential_keys(td: ThingDescription | None) -> tuple[str, ...]:
    """The credential fields a Thing's security definitions call for."""
    schemes = {d.scheme for d in td.security_definitions.values()} if td else set()
    wanted = {key for scheme in schemes for key in SCHEME_KEYS.get(scheme, ())}
    return tuple(key for key in CREDENTIAL_KEYS if key in wanted) or PLAIN_KEYS


def _with_credentials(data: Mapping[str, Any], user_input: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` without stored credentials, plus the non-empty ones in ``user_input``."""
    out = {key: value for key, value in data.items() if key not in CREDENTIAL_KEYS}
    out.update({key: user_input[key] for key in CREDENTIAL_KEYS if user_input.get(key)})
    return out


class ThingBridgeConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a ThingBridge entry."""

    VERSION = 1

    def __init__(self) -> None:
        """Start with nothing found yet."""
        self._kind = KIND_WOT_THING
        self._url = ""
        self._title = ""
        # The Thing's TD when it could be read: its security definitions pick the credential
        # fields.
        self._td: ThingDescription | None = None
        # A discovered tracker: (protocol, device ID).
        self._tracker = ("", "")
        # A discovered "Thing" that was no TD has been explored as a directory.
        self._tried_directory = False

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry[Any]) -> OptionsFlow:
        """The options flow (the gateway's, or a Web of Things entry's)."""
        if is_tracker_gateway(config_entry):
            return TrackerGatewayOptionsFlow()
        return ThingBridgeOptionsFlow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry[Any]
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """The gateway holds trackers; Web of Things entries hold nothing."""
        if is_tracker_gateway(config_entry):
            return {SUBENTRY_TRACKER: TrackerSubentryFlow}
        return {}

    # ------------------------------------------------------------------ probing

    async def _fetch_td(self, url: str, creds: Credentials | None) -> ThingDescription:
        try:
            return await fetch_thing_description(
                async_get_clientsession(self.hass), url, credentials=creds
            )
        except WotError as err:
            raise _flow_error(err, creds) from err

    async def _probe_thing(self, url: str, creds: Credentials | None) -> ThingDescription:
        """Fetch a Thing's TD and prove the credentials on it (or that it needs none)."""
        td = await self._fetch_td(url, creds)
        if is_directory(td.raw):
            raise FlowError("is_directory")
        self._td = td
        if creds is None:
            if td.requires_credentials:
                raise FlowError("credentials_needed")
            return td
        readable = next((name for name, prop in td.properties.items() if prop.readable), None)
        if readable is None:
            return td  # nothing to try the credentials on; the TD was all there is to read
        try:
            await WotClient(
                async_get_clientsession(self.hass), td, credentials=creds
            ).read_property(readable)
        except WotError as err:
            raise _flow_error(err, creds) from err
        return td

    async def _probe_directory(self, url: str, creds: Credentials | None) -> str:
        """Explore a directory; return its title."""
        try:
            result = await explore(async_get_clientsession(self.hass), url, credentials=creds)
        except WotError as err:
            raise _flow_error(err, creds) from err
        if not result.things:
            raise FlowError("no_things")
        return result.title or URL(url).host or url

    async def _async_probe(self, url: str, creds: Credentials | None) -> str:
        """Check what is at ``url`` (of this flow's kind); return its unique ID."""
        if self._kind == KIND_WOT_DIRECTORY:
            self._title = await self._probe_directory(url, creds)
            return url
        td = await self._probe_thing(url, creds)
        self._title = td.title
        return _unique_id(td, url)

    async def _async_claim(self, unique_id: str) -> None:
        """Take ``unique_id``; abort if that Thing or directory is already in ThingBridge.

        An entry of the same Thing gets this flow's URL (it moved). A Thing that is a device of
        a directory entry is not added again.
        """
        await self.async_set_unique_id(unique_id)
        updates: dict[str, Any] | None = {CONF_URL: self._url}
        existing = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, unique_id)
        if (
            self.source == SOURCE_ZEROCONF
            and existing is not None
            and any(existing.data.get(key) for key in CREDENTIAL_KEYS)
        ):
            # Anyone on the network can advertise a copy of a TD (its id is public): an entry
            # that holds credentials does not follow an advertisement to a new address, or the
            # credentials would go there. The user moves it with Reconfigure.
            updates = None
        self._abort_if_unique_id_configured(updates=updates)
        if dr.async_get(self.hass).async_get_devices(
            identifiers={device_identifier(KIND_WOT_THING, unique_id)}
        ):
            raise AbortFlow("already_configured")

    async def _async_probe_and_create(self, user_input: Mapping[str, Any]) -> ConfigFlowResult:
        """Check ``self._url`` with the credentials in ``user_input``; create the entry."""
        await self._async_claim(await self._async_probe(self._url, credentials_from(user_input)))
        data = _with_credentials({CONF_KIND: self._kind, CONF_URL: self._url}, user_input)
        return self.async_create_entry(title=self._title, data=data)

    # ------------------------------------------------------------------ user steps

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask which kind of entry to add."""
        return self.async_show_menu(step_id="user", menu_options=list(ENTRY_KINDS))

    async def async_step_wot_thing(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a Web of Things Thing from the URL of its Thing Description."""
        return await self._async_step_url(KIND_WOT_THING, user_input)

    async def async_step_wot_directory(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add every Thing of a WoT directory (or of a multi-Thing WebThings server)."""
        return await self._async_step_url(KIND_WOT_DIRECTORY, user_input)

    async def _async_step_url(
        self, kind: str, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            self._kind = kind
            try:
                self._url = _check_url(user_input[CONF_URL])
                return await self._async_probe_and_create({})
            except FlowError as err:
                if err.key == "credentials_needed":
                    return await self.async_step_credentials()
                errors["base"] = err.key
                placeholders = err.placeholders
        return self.async_show_form(
            step_id=kind,
            data_schema=self.add_suggested_values_to_schema(URL_SCHEMA, user_input),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_credentials(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the credentials the Thing (or directory) requires."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            try:
                return await self._async_probe_and_create(user_input)
            except FlowError as err:
                errors["base"] = err.key
                placeholders = err.placeholders
        return self.async_show_form(
            step_id="credentials",
            data_schema=self._credentials_schema(),
            errors=errors,
            description_placeholders={**placeholders, "url": self._url},
        )

    def _credentials_schema(self) -> probatio.Schema:
        return probatio.Schema(
            {
                probatio.Optional(key): TextSelector() if key == CONF_USERNAME else SECRET
                for key in _credential_keys(self._td)
            }
        )

    # ------------------------------------------------------------------ discovery

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A Thing, a directory or a WebThings server advertised itself over mDNS."""
        try:
            service = service_from_zeroconf(
                discovery_info.type,
                discovery_info.name,
                str(discovery_info.ip_address),
                discovery_info.port or 80,
                discovery_info.properties,
            )
        except WotValidationError:
            return self.async_abort(reason="invalid_url")
        scheme = URL(service.url).scheme  # service_from_zeroconf built it
        if scheme and scheme not in ("http", "https"):
            # e.g. TXT scheme=coap or coap+tcp: a Thing ThingBridge cannot speak to
            return self.async_abort(
                reason="unsupported_protocol", description_placeholders={"scheme": scheme}
            )
        try:
            self._url = _check_url(service.url)
        except FlowError:
            return self.async_abort(reason="invalid_url")
        self._title = service.name
        if service.kind == "thing":
            return await self._async_discovered_thing()
        return await self._async_discovered_directory(webthing=service.kind == "webthing")

    async def _async_discovered_thing(self) -> ConfigFlowResult:
        self._kind = KIND_WOT_THING
        try:
            td = await self._fetch_td(self._url, None)
        except FlowError as err:
            if err.key == "invalid_td" and not self._tried_directory:
                # Not one TD: perhaps a directory advertised as a Thing (LinkSmart's thing
                # directory lists its TDs at TXT td=/td); explore() reads every listing shape.
                self._tried_directory = True
                return await self._async_discovered_directory(webthing=False, unless=err.key)
            if err.key != "credentials_needed":
                return self.async_abort(reason=err.key, description_placeholders=err.placeholders)
            # The TD itself is protected: the Thing's id is known once the credentials are.
            self._async_abort_entries_match({CONF_URL: self._url})
            await self._async_claim(self._url)
            return await self._async_discovered(needs_credentials=True)
        if is_directory(td.raw):
            # A directory advertised without its _directory subtype or TXT type.
            return await self._async_discovered_directory(webthing=False)
        self._td = td
        self._title = td.title
        await self._async_claim(_unique_id(td, self._url))
        return await self._async_discovered(needs_credentials=td.requires_credentials)

    async def _async_discovered_directory(
        self, *, webthing: bool, unless: str | None = None
    ) -> ConfigFlowResult:
        """Offer a directory (or a WebThings server's Things).

        ``unless``: the reason to abort with when this is only a guess (what was advertised
        as a Thing turned out not to be one) and no Things are found there either.
        """
        self._kind = KIND_WOT_DIRECTORY
        try:
            result = await explore(async_get_clientsession(self.hass), self._url)
        except WotAuthError:
            result = None  # a protected listing: ask for the credentials
        except WotError as err:
            return self.async_abort(reason=unless or _error_key(err, None))
        if result is not None:
            if webthing and len(result.things) == 1:
                # A WebThings server with one Thing: that Thing is what to add.
                self._url = str(result.things[0].source_url or self._url)
                return await self._async_discovered_thing()
            if not result.things:
                return self.async_abort(reason=unless or "no_things")
            self._title = result.title or self._title
        await self._async_claim(self._url)
        return await self._async_discovered(needs_credentials=result is None)

    async def _async_discovered(self, *, needs_credentials: bool) -> ConfigFlowResult:
        self.context["title_placeholders"] = {"name": self._title}
        if needs_credentials:
            return await self.async_step_credentials()
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask the user to confirm adding what was discovered."""
        if user_input is not None:
            return self.async_create_entry(
                title=self._title, data={CONF_KIND: self._kind, CONF_URL: self._url}
            )
        self._set_confirm_only()
        return self.async_show_form(
            step_id="discovery_confirm",
            description_placeholders={"name": self._title, "url": self._url},
        )

    # ------------------------------------------------------------------ GPS tracker gateway

    def _gateway_entry(self) -> ConfigEntry[Any] | None:
        return self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, TRACKER_GATEWAY_UNIQUE_ID
        )

    async def async_step_tracker_gateway(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set up the GPS tracker gateway: which protocols, lenient checksums, offline time."""
        await self.async_set_unique_id(TRACKER_GATEWAY_UNIQUE_ID)
        if self._gateway_entry() is not None:
            return self.async_abort(reason="gateway_exists")
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            settings = GatewaySettings(
                protocols=_protocols(user_input),
                ports=MappingProxyType(default_ports()),
                host=DEFAULT_LISTEN_HOST,
                lenient=bool(user_input[CONF_LENIENT]),
                offline_minutes=int(user_input[CONF_OFFLINE_MINUTES]),
            )
            try:
                await _async_validate_gateway(settings)
            except FlowError as err:
                errors["base"] = err.key
                placeholders = err.placeholders
            else:
                return self.async_create_entry(
                    title="GPS trackers",
                    data={CONF_KIND: KIND_TRACKER_GATEWAY},
                    options=settings.as_options(),
                )
        schema = probatio.Schema(
            {
                probatio.Required(CONF_PROTOCOLS): PROTOCOLS_SELECTOR,
                probatio.Required(CONF_LENIENT): BooleanSelector(),
                probatio.Required(CONF_OFFLINE_MINUTES): OFFLINE_SELECTOR,
            }
        )
        suggested = user_input or {
            CONF_PROTOCOLS: list(TRACKER_PROTOCOLS),
            CONF_LENIENT: False,
            CONF_OFFLINE_MINUTES: DEFAULT_OFFLINE_MINUTES,
        }
        return self.async_show_form(
            step_id="tracker_gateway",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders=_port_placeholders(placeholders),
        )

    async def async_step_integration_discovery(
        self, discovery_info: DiscoveryInfoType
    ) -> ConfigFlowResult:
        """The gateway heard from a tracker nobody added: offer to add it."""
        protocol = str(discovery_info.get(CONF_PROTOCOL, ""))
        device_id = str(discovery_info.get(CONF_DEVICE_ID, ""))
        if protocol not in TRACKER_PROTOCOLS or not valid_device_id(protocol, device_id):
            return self.async_abort(reason="invalid_discovery_info")
        gateway = self._gateway_entry()
        if gateway is None:
            return self.async_abort(reason="no_gateway")
        if _has_tracker(gateway, protocol, device_id):
            return self.async_abort(reason="already_configured")
        await self.async_set_unique_id(discovery_unique_id(protocol, device_id))
        self._abort_if_unique_id_configured()  # the user chose to ignore this tracker
        self._tracker = (protocol, device_id)
        self.context["title_placeholders"] = {
            "name": f"{device_id} ({TRACKER_PROTOCOL_LABELS[protocol]})"
        }
        return await self.async_step_tracker_confirm()

    async def async_step_tracker_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask whether to add the discovered tracker (and how to name it)."""
        protocol, device_id = self._tracker
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

    # ------------------------------------------------------------------ reauth / reconfigure

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The Thing (or directory) stopped accepting the stored credentials."""
        self._url = entry_data[CONF_URL]
        self._kind = entry_data.get(CONF_KIND, KIND_WOT_THING)
        if self._kind == KIND_WOT_THING:
            # The TD's security definitions pick the fields; unreadable, ask for the plain ones.
            with contextlib.suppress(FlowError):
                self._td = await self._fetch_td(self._url, None)
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for new credentials and check them on the same Thing."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            try:
                unique_id = await self._async_probe(self._url, credentials_from(user_input))
            except FlowError as err:
                errors["base"] = err.key
                placeholders = err.placeholders
            else:
                await self.async_set_unique_id(unique_id, raise_on_progress=False)
                self._abort_if_unique_id_mismatch(reason="wrong_thing")
                return self.async_update_reload_and_abort(
                    entry, data=_with_credentials(entry.data, user_input)
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=self._credentials_schema(),
            errors=errors,
            description_placeholders={**placeholders, "name": entry.title},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Point an existing entry at a new URL of the same Thing (or directory)."""
        entry = self._get_reconfigure_entry()
        if is_tracker_gateway(entry):
            # The gateway has no URL; its settings are in its options.
            return self.async_abort(reason="gateway_reconfigure")
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            self._kind = entry.data.get(CONF_KIND, KIND_WOT_THING)
            try:
                url = _check_url(user_input[CONF_URL])
                unique_id = await self._async_probe(url, credentials_from(entry.data))
            except FlowError as err:
                errors["base"] = err.key
                placeholders = err.placeholders
            else:
                # A directory, or a Thing whose TD has no id, is known by its URL alone: its
                # identity moves with it (unless another entry has that URL). A Thing with an
                # id must keep it.
                by_url = entry.unique_id == entry.data[CONF_URL] and unique_id == url
                await self.async_set_unique_id(unique_id, raise_on_progress=False)
                if not by_url:
                    self._abort_if_unique_id_mismatch(reason="wrong_thing")
                elif unique_id != entry.unique_id:
                    self._abort_if_unique_id_configured()
                return self.async_update_reload_and_abort(
                    entry, unique_id=unique_id, data_updates={CONF_URL: url}
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                URL_SCHEMA, user_input or {CONF_URL: entry.data[CONF_URL]}
            ),
            errors=errors,
            description_placeholders=placeholders,
        )


class ThingBridgeOptionsFlow(OptionsFlowWithReload):
    """Options of an entry."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Whether requests may go to hosts other than the one the TD came from."""
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        schema = probatio.Schema(
            {probatio.Required(CONF_ALLOW_OTHER_HOSTS, default=False): BooleanSelector()}
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, self.config_entry.options),
        )


# ---------------------------------------------------------------------- GPS tracker gateway

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


async def _async_validate_gateway(
    settings: GatewaySettings, held: frozenset[int] = frozenset()
) -> None:
    """Check the settings and that their ports can be bound.

    Raises:
        FlowError: What is wrong (no protocol, a port twice, a bad address, a port taken).
    """
    if not settings.protocols:
        raise FlowError("no_protocols")
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
        raise FlowError(port_error_key(err), port_error_placeholders(err)) from err


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
        current = GatewaySettings.from_options(self.config_entry.options)
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            settings = GatewaySettings(
                protocols=_protocols(user_input),
                ports=MappingProxyType(
                    {p: int(user_input[_port_key(p)]) for p in TRACKER_PROTOCOLS}
                ),
                host=str(user_input[CONF_LISTEN_HOST]).strip(),
                lenient=bool(user_input[CONF_LENIENT]),
                offline_minutes=int(user_input[CONF_OFFLINE_MINUTES]),
            )
            try:
                await _async_validate_gateway(settings, self._held_ports())
            except FlowError as err:
                errors["base"] = err.key
                placeholders = err.placeholders
            else:
                return self.async_create_entry(data=settings.as_options())
        fields: dict[Any, Any] = {probatio.Required(CONF_PROTOCOLS): PROTOCOLS_SELECTOR}
        fields.update({probatio.Required(_port_key(p)): PORT_SELECTOR for p in TRACKER_PROTOCOLS})
        fields[probatio.Required(CONF_LISTEN_HOST)] = TextSelector()
        fields[probatio.Required(CONF_LENIENT)] = BooleanSelector()
        fields[probatio.Required(CONF_OFFLINE_MINUTES)] = OFFLINE_SELECTOR
        suggested = user_input or {
            CONF_PROTOCOLS: list(current.protocols),
            **{_port_key(p): current.ports[p] for p in TRACKER_PROTOCOLS},
            CONF_LISTEN_HOST: current.host,
            CONF_LENIENT: current.lenient,
            CONF_OFFLINE_MINUTES: current.offline_minutes,
        }
        return self.async_show_form(
            step_id="gateway",
            data_schema=self.add_suggested_values_to_schema(probatio.Schema(fields), suggested),
            errors=errors,
            description_placeholders=_port_placeholders(placeholders),
        )

    def _held_ports(self) -> frozenset[int]:
        """The ports this gateway listens on now: free again once it restarts."""
        entry = self.config_entry
        if entry.state is not ConfigEntryState.LOADED or not is_tracker_gateway(entry):
            return frozenset()
        gateway = entry.runtime_data.gateway
        return frozenset(gateway.ports.values()) | frozenset(gateway.udp_ports.values())


class TrackerSubentryFlow(ConfigSubentryFlow):
    """Add a GPS tracker to the gateway by hand."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the tracker's protocol, device ID (IMEI) and name."""
        entry = self._get_entry()
        enabled = GatewaySettings.from_options(entry.options).protocols or TRACKER_PROTOCOLS
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
