"""Config flow for ThingBridge: the menu of the kinds of entry, and the dispatch to each pillar.

The first step is a menu of the kinds of entry ThingBridge creates. Each pillar's steps come
from its own package, as a mixin of :class:`ThingBridgeConfigFlow` that keeps what it found in
one object of its own:

- ``bridges/wot/flow.py`` (:class:`WotSteps`, ``self._wot``): a Web of Things Thing or
  directory from its URL or from zeroconf, its credentials, reauthentication and
  reconfiguration, and a Web of Things entry's options flow.
- ``bridges/wot/modbus_flow.py`` (:class:`ModbusSteps`, ``self._modbus``): a Modbus device
  (a Thing whose TD comes from a Thing Model profile or its SunSpec models), its link, unit and
  profile, a test read before the entry is made, reconfiguration, and its options flow.
- ``bridges/trackers/flow.py`` (:class:`TrackerSteps`, ``self._trackers``): the GPS tracker
  gateway, the trackers it discovers, its options flow and the tracker subentry flow.
- ``bridges/assets/flow.py`` (:class:`AssetSteps`, no state): the asset register, its options
  flow and the asset and geofence subentry flows.

The steps that Home Assistant starts on an existing entry (reauth, reconfigure) and the options
and subentry flows go to the pillar of the entry's kind, decided in one place
(:meth:`ThingBridgeConfigFlow.async_step_reconfigure`, :func:`.kinds.kind_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.typing import DiscoveryInfoType

from .bridges.assets.flow import AssetSteps
from .bridges.trackers.flow import TrackerGatewayOptionsFlow, TrackerSteps, TrackerSubentryFlow
from .bridges.wot.flow import ThingBridgeOptionsFlow, WotSteps
from .bridges.wot.modbus_flow import ModbusSteps
from .const import DOMAIN, ENTRY_KINDS, KIND_ASSET_REGISTER, KIND_MODBUS_DEVICE
from .kinds import WOT_KINDS, kind_of

__all__ = [
    "ThingBridgeConfigFlow",
    "ThingBridgeOptionsFlow",
    "TrackerGatewayOptionsFlow",
    "TrackerSubentryFlow",
]


class ThingBridgeConfigFlow(
    WotSteps, ModbusSteps, TrackerSteps, AssetSteps, ConfigFlow, domain=DOMAIN
):
    """Add a ThingBridge entry."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry[Any]) -> OptionsFlow:
        """The options flow (the gateway's, or a Web of Things entry's)."""
        return kind_of(config_entry).options_flow()

    @classmethod
    @callback
    def async_get_supported_subentry_types(
        cls, config_entry: ConfigEntry[Any]
    ) -> dict[str, type[ConfigSubentryFlow]]:
        """The subentries the entry's kind holds (the gateway: trackers)."""
        return dict(kind_of(config_entry).subentry_flows)

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask which kind of entry to add (each option is the first step of that kind)."""
        return self.async_show_menu(step_id="user", menu_options=list(ENTRY_KINDS))

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """An entry's stored credentials stopped working.

        Only Web of Things entries hold credentials (and start a reauthentication).
        """
        return await self._async_wot_reauth(entry_data)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change an entry's address: a Thing's or directory's URL; the gateway has none."""
        entry = self._get_reconfigure_entry()
        key = kind_of(entry).key
        if key == KIND_MODBUS_DEVICE:
            return await self._async_modbus_reconfigure(entry, user_input)
        if key in WOT_KINDS:
            return await self._async_wot_reconfigure(entry, user_input)
        if key == KIND_ASSET_REGISTER:
            return await self._async_register_reconfigure()
        return await self._async_gateway_reconfigure()

    async def async_step_integration_discovery(
        self, discovery_info: DiscoveryInfoType
    ) -> ConfigFlowResult:
        """Discovery from inside the integration: only the gateway raises it, for a tracker."""
        return await self._async_tracker_discovery(discovery_info)
