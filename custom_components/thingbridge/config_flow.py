"""Config flow for ThingBridge.

The first step is a menu of the kinds of entry ThingBridge creates. A Web of Things Thing is
added from the URL of its Thing Description, or found by Home Assistant's zeroconf discovery
(``_wot._tcp``, ``_webthing._tcp``).
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_URL
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import TextSelector, TextSelectorConfig, TextSelectorType
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo
import probatio
from yarl import URL

from .const import CONF_KIND, DOMAIN, ENTRY_KINDS, KIND_WOT_THING
from .wot import ThingDescription, WotError, WotValidationError, fetch_thing_description

URL_SCHEMA = probatio.Schema(
    {probatio.Required(CONF_URL): TextSelector(TextSelectorConfig(type=TextSelectorType.URL))}
)


def url_from_zeroconf(info: ZeroconfServiceInfo) -> str:
    """Build the TD URL a ``_wot._tcp`` or ``_webthing._tcp`` advertisement points to.

    ``_wot._tcp`` TXT records carry ``td`` (the TD's path) and ``scheme``; some devices use
    ``path`` and ``tls=1`` instead, as ``_webthing._tcp`` does.
    """
    props = info.properties
    path = str(props.get("td") or props.get("path") or "/.well-known/wot")
    scheme = str(props.get("scheme") or ("https" if props.get("tls") == "1" else "http"))
    if scheme not in ("http", "https"):
        scheme = "http"
    if not path.startswith("/"):
        path = f"/{path}"
    return str(
        URL.build(scheme=scheme, host=info.host, port=info.port, encoded=False).join(URL(path))
    )


def _unique_id(td: ThingDescription, url: str) -> str:
    return td.id or url


class ThingBridgeConfigFlow(ConfigFlow, domain=DOMAIN):
    """Add a ThingBridge entry."""

    VERSION = 1

    _discovered_url: str
    _discovered_td: ThingDescription

    async def _fetch(self, url: str) -> tuple[ThingDescription | None, str | None]:
        """Fetch and parse a TD; return it, or the translation key of what went wrong."""
        if URL(url).scheme not in ("http", "https"):
            return None, "invalid_url"
        try:
            td = await fetch_thing_description(async_get_clientsession(self.hass), url)
        except WotValidationError:
            return None, "invalid_td"
        except WotError:
            return None, "cannot_connect"
        return td, None

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask which kind of entry to add."""
        return self.async_show_menu(step_id="user", menu_options=list(ENTRY_KINDS))

    async def async_step_wot_thing(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a Web of Things Thing from the URL of its Thing Description."""
        errors: dict[str, str] = {}
        if user_input is not None:
            url = user_input[CONF_URL].strip()
            td, error = await self._fetch(url)
            if td is None:
                errors["base"] = error or "unknown"
            else:
                await self.async_set_unique_id(_unique_id(td, url))
                self._abort_if_unique_id_configured(updates={CONF_URL: url})
                return self.async_create_entry(
                    title=td.title, data={CONF_KIND: KIND_WOT_THING, CONF_URL: url}
                )
        return self.async_show_form(
            step_id="wot_thing",
            data_schema=self.add_suggested_values_to_schema(URL_SCHEMA, user_input),
            errors=errors,
        )

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        """A Thing advertised itself over mDNS."""
        url = url_from_zeroconf(discovery_info)
        td, error = await self._fetch(url)
        if td is None:
            return self.async_abort(reason=error or "unknown")
        await self.async_set_unique_id(_unique_id(td, url))
        # The same Thing at a new address: update the stored URL (and reload) instead.
        self._abort_if_unique_id_configured(updates={CONF_URL: url})
        self._discovered_url = url
        self._discovered_td = td
        self.context["title_placeholders"] = {"name": td.title}
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask the user to confirm adding a discovered Thing."""
        if user_input is None:
            self._set_confirm_only()
            return self.async_show_form(
                step_id="zeroconf_confirm",
                description_placeholders={
                    "name": self._discovered_td.title,
                    "url": self._discovered_url,
                },
            )
        return self.async_create_entry(
            title=self._discovered_td.title,
            data={CONF_KIND: KIND_WOT_THING, CONF_URL: self._discovered_url},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Point an existing entry at a new TD URL of the same Thing."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            url = user_input[CONF_URL].strip()
            td, error = await self._fetch(url)
            if td is None:
                errors["base"] = error or "unknown"
            else:
                await self.async_set_unique_id(_unique_id(td, url))
                self._abort_if_unique_id_mismatch(reason="wrong_thing")
                return self.async_update_reload_and_abort(entry, data_updates={CONF_URL: url})
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                URL_SCHEMA, user_input or {CONF_URL: entry.data[CONF_URL]}
            ),
            errors=errors,
        )
