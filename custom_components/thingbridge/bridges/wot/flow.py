"""The Web of Things steps of the config flow, and a Web of Things entry's options flow.

A Thing is added from the URL of its Thing Description; a WoT directory (or a WebThings server
with several Things) from its URL, its Things becoming devices of one entry. Both are also found
by Home Assistant's zeroconf discovery (``_wot._tcp``, ``_directory._sub._wot._tcp``,
``_webthing._tcp``). Things that need credentials get a credentials step; reauthentication and
reconfiguration are supported.

Identity: a Thing's entry is identified by its TD's ``id`` (by its URL when the TD has none), a
directory's by its URL. Discovery of a known Thing at a new address updates the entry's URL; a
Thing that already belongs to ThingBridge (as an entry, or as a device of a directory entry) is
not added again.

:class:`WotSteps` is a mixin of the integration's config flow; what it found so far is kept in
one :class:`WotFlowState`.
"""

from __future__ import annotations

from collections.abc import Mapping
import contextlib
from dataclasses import dataclass
import logging
from typing import Any

from homeassistant.config_entries import (
    SOURCE_ZEROCONF,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import (
    CONF_API_KEY,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_URL,
    CONF_USERNAME,
)
from homeassistant.data_entry_flow import AbortFlow
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import probatio
from yarl import URL

from ...const import (
    CONF_ALLOW_OTHER_HOSTS,
    CONF_KIND,
    DOMAIN,
    KIND_WOT_DIRECTORY,
    KIND_WOT_THING,
    device_identifier,
    entry_kind,
)
from ...wot import (
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
    safe_url,
    service_from_zeroconf,
)
from ..flow import FlowError
from .coordinator import credentials_from
from .runtime import CONF_MAX_THINGS, DIRECTORY_MAX_THINGS, DIRECTORY_MAX_THINGS_LIMIT

URL_SCHEMA = probatio.Schema(
    {probatio.Required(CONF_URL): TextSelector(TextSelectorConfig(type=TextSelectorType.URL))}
)
MAX_THINGS_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=1, max=DIRECTORY_MAX_THINGS_LIMIT, step=1, mode=NumberSelectorMode.BOX)
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
# How much of the library's reason an ``invalid_td`` error shows (it names the member first).
MAX_REASON_CHARS = 200

_LOGGER = logging.getLogger(__name__)


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


def _flow_error(err: WotError, creds: Credentials | None, url: str) -> FlowError:
    """The form error for a WoT library error at ``url``.

    A TD over the affordance cap names the count and the limit; an unusable answer names what
    is wrong with it (the library's reason, e.g. ``$.title: missing or empty``, which is also
    logged at debug level).
    """
    if isinstance(err, WotLimitError) and err.count is not None:
        return FlowError("too_many_affordances", {"count": str(err.count), "limit": str(err.limit)})
    key = _error_key(err, creds)
    if key != "invalid_td":
        return FlowError(key)
    # The library's messages mask secrets in the URLs they name; the member names come from
    # the device, so the log shows them escaped.
    reason = str(err)
    _LOGGER.debug("Not a usable Thing Description at %s: %r", safe_url(url), reason)
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1] + "…"
    return FlowError(key, {"error": reason})


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


@dataclass
class WotFlowState:
    """What a flow of the Web of Things steps found so far."""

    kind: str = KIND_WOT_THING
    url: str = ""
    title: str = ""
    # The Thing's TD when it could be read: its security definitions pick the credential fields.
    td: ThingDescription | None = None
    # A discovered "Thing" that was no TD has been explored as a directory.
    tried_directory: bool = False


class WotSteps(ConfigFlow):
    """The config flow's Web of Things steps (a mixin of the integration's config flow)."""

    def __init__(self) -> None:
        """Start with nothing found yet."""
        super().__init__()
        self._wot = WotFlowState()

    # ------------------------------------------------------------------ probing

    async def _fetch_td(self, url: str, creds: Credentials | None) -> ThingDescription:
        try:
            return await fetch_thing_description(
                async_get_clientsession(self.hass), url, credentials=creds
            )
        except WotError as err:
            raise _flow_error(err, creds, url) from err

    async def _probe_thing(self, url: str, creds: Credentials | None) -> ThingDescription:
        """Fetch a Thing's TD and prove the credentials on it (or that it needs none)."""
        td = await self._fetch_td(url, creds)
        if is_directory(td.raw):
            raise FlowError("is_directory")
        self._wot.td = td
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
            raise _flow_error(err, creds, url) from err
        return td

    async def _probe_directory(self, url: str, creds: Credentials | None) -> str:
        """Explore a directory; return its title."""
        try:
            result = await explore(async_get_clientsession(self.hass), url, credentials=creds)
        except WotError as err:
            raise _flow_error(err, creds, url) from err
        if not result.things:
            raise FlowError("no_things")
        return result.title or URL(url).host or url

    async def _async_probe(self, url: str, creds: Credentials | None) -> str:
        """Check what is at ``url`` (of this flow's kind); return its unique ID."""
        if self._wot.kind == KIND_WOT_DIRECTORY:
            self._wot.title = await self._probe_directory(url, creds)
            return url
        td = await self._probe_thing(url, creds)
        self._wot.title = td.title
        return _unique_id(td, url)

    async def _async_claim(self, unique_id: str) -> None:
        """Take ``unique_id``; abort if that Thing or directory is already in ThingBridge.

        An entry of the same Thing gets this flow's URL (it moved). A Thing that is a device of
        a directory entry is not added again.
        """
        await self.async_set_unique_id(unique_id)
        updates: dict[str, Any] | None = {CONF_URL: self._wot.url}
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
        """Check ``self._wot.url`` with the credentials in ``user_input``; create the entry."""
        await self._async_claim(
            await self._async_probe(self._wot.url, credentials_from(user_input))
        )
        data = _with_credentials({CONF_KIND: self._wot.kind, CONF_URL: self._wot.url}, user_input)
        return self.async_create_entry(title=self._wot.title, data=data)

    # ------------------------------------------------------------------ user steps

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
            self._wot.kind = kind
            try:
                self._wot.url = _check_url(user_input[CONF_URL])
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
            description_placeholders={**placeholders, "url": self._wot.url},
        )

    def _credentials_schema(self) -> probatio.Schema:
        return probatio.Schema(
            {
                probatio.Optional(key): TextSelector() if key == CONF_USERNAME else SECRET
                for key in _credential_keys(self._wot.td)
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
            self._wot.url = _check_url(service.url)
        except FlowError:
            return self.async_abort(reason="invalid_url")
        self._wot.title = service.name
        if service.kind == "thing":
            return await self._async_discovered_thing()
        return await self._async_discovered_directory(webthing=service.kind == "webthing")

    async def _async_discovered_thing(self) -> ConfigFlowResult:
        self._wot.kind = KIND_WOT_THING
        try:
            td = await self._fetch_td(self._wot.url, None)
        except FlowError as err:
            if err.key == "invalid_td" and not self._wot.tried_directory:
                # Not one TD: perhaps a directory advertised as a Thing (LinkSmart's thing
                # directory lists its TDs at TXT td=/td); explore() reads every listing shape.
                self._wot.tried_directory = True
                return await self._async_discovered_directory(webthing=False, unless=err.key)
            if err.key != "credentials_needed":
                return self.async_abort(reason=err.key, description_placeholders=err.placeholders)
            # The TD itself is protected: the Thing's id is known once the credentials are.
            self._async_abort_entries_match({CONF_URL: self._wot.url})
            await self._async_claim(self._wot.url)
            return await self._async_discovered(needs_credentials=True)
        if is_directory(td.raw):
            # A directory advertised without its _directory subtype or TXT type.
            return await self._async_discovered_directory(webthing=False)
        self._wot.td = td
        self._wot.title = td.title
        await self._async_claim(_unique_id(td, self._wot.url))
        return await self._async_discovered(needs_credentials=td.requires_credentials)

    async def _async_discovered_directory(
        self, *, webthing: bool, unless: str | None = None
    ) -> ConfigFlowResult:
        """Offer a directory (or a WebThings server's Things).

        ``unless``: the reason to abort with when this is only a guess (what was advertised
        as a Thing turned out not to be one) and no Things are found there either.
        """
        self._wot.kind = KIND_WOT_DIRECTORY
        try:
            result = await explore(async_get_clientsession(self.hass), self._wot.url)
        except WotAuthError:
            result = None  # a protected listing: ask for the credentials
        except WotError as err:
            return self.async_abort(reason=unless or _error_key(err, None))
        if result is not None:
            if webthing and len(result.things) == 1:
                # A WebThings server with one Thing: that Thing is what to add.
                self._wot.url = str(result.things[0].source_url or self._wot.url)
                return await self._async_discovered_thing()
            if not result.things:
                return self.async_abort(reason=unless or "no_things")
            self._wot.title = result.title or self._wot.title
        await self._async_claim(self._wot.url)
        return await self._async_discovered(needs_credentials=result is None)

    async def _async_discovered(self, *, needs_credentials: bool) -> ConfigFlowResult:
        self.context["title_placeholders"] = {"name": self._wot.title}
        if needs_credentials:
            return await self.async_step_credentials()
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask the user to confirm adding what was discovered."""
        if user_input is not None:
            return self.async_create_entry(
                title=self._wot.title, data={CONF_KIND: self._wot.kind, CONF_URL: self._wot.url}
            )
        self._set_confirm_only()
        return self.async_show_form(
            step_id="discovery_confirm",
            description_placeholders={"name": self._wot.title, "url": self._wot.url},
        )

    # ------------------------------------------------------------------ reauth / reconfigure

    async def _async_wot_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """The Thing (or directory) stopped accepting the stored credentials."""
        self._wot.url = entry_data[CONF_URL]
        self._wot.kind = entry_data.get(CONF_KIND, KIND_WOT_THING)
        if self._wot.kind == KIND_WOT_THING:
            # The TD's security definitions pick the fields; unreadable, ask for the plain ones.
            with contextlib.suppress(FlowError):
                self._wot.td = await self._fetch_td(self._wot.url, None)
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
                unique_id = await self._async_probe(self._wot.url, credentials_from(user_input))
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

    async def _async_wot_reconfigure(
        self, entry: ConfigEntry[Any], user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Point an existing entry at a new URL of the same Thing (or directory)."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            self._wot.kind = entry.data.get(CONF_KIND, KIND_WOT_THING)
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
    """Options of a Web of Things entry (a Thing or a directory)."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Whether requests may go to hosts other than the one the TD came from.

        A directory entry also sets how many of the directory's Things it sets up.
        """
        directory = entry_kind(self.config_entry.data) == KIND_WOT_DIRECTORY
        if user_input is not None:
            if directory:
                user_input[CONF_MAX_THINGS] = int(user_input[CONF_MAX_THINGS])
            return self.async_create_entry(data=user_input)
        fields: dict[Any, Any] = {
            probatio.Required(CONF_ALLOW_OTHER_HOSTS, default=False): BooleanSelector()
        }
        if directory:
            fields[probatio.Required(CONF_MAX_THINGS, default=DIRECTORY_MAX_THINGS)] = (
                MAX_THINGS_SELECTOR
            )
        schema = probatio.Schema(fields)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, self.config_entry.options),
        )
