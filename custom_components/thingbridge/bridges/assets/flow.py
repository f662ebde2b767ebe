"""The asset register's config flow step, its options flow, and the asset and geofence subentry flows.

The register is one entry per Home Assistant (its unique ID), with three settings: the prefix
of the asset tags it hands out, whether a check-out past its expected return raises a
reminder (on by default), and after how many hours without a position an asset is "not
seen". Its assets and geofences are config subentries, each added and reconfigured with its
own subentry flow:

- an asset: name, asset tag (unique; the next free ``PREFIX-0001`` unless given), category,
  home zone, parent asset, location source (any entity with latitude and longitude), allowed
  geofences and hours, a maintenance plan, the id of an NFC tag or QR code stuck on it;
- a geofence: name, the Home Assistant zone it refines, and its polygon as GeoJSON or WKT
  (at most 500 vertices); the library's parser names what is wrong, and its error's code
  and placeholders become the form's translated error.

:class:`AssetSteps` is a mixin of the integration's config flow (it keeps no state).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.components import zone
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    ConfigSubentryFlow,
    OptionsFlow,
    SubentryFlowResult,
)
from homeassistant.const import ATTR_LATITUDE, ATTR_LONGITUDE, CONF_NAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.selector import (
    BooleanSelector,
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TimeSelector,
)
import probatio

from ...assets import AssetsError, check_prefix, check_tag, next_tag, parse_geofence
from ...const import (
    ASSET_CATEGORIES,
    ASSET_REGISTER_UNIQUE_ID,
    CONF_ALLOWED_FROM,
    CONF_ALLOWED_UNTIL,
    CONF_ASSET_TAG,
    CONF_CATEGORY,
    CONF_EVERY_DAYS,
    CONF_EVERY_HOURS,
    CONF_EVERY_KM,
    CONF_GEOFENCES,
    CONF_HOME_ZONE,
    CONF_KIND,
    CONF_NOT_SEEN_HOURS,
    CONF_OVERDUE_REMINDERS,
    CONF_PARENT,
    CONF_PLAN_NAME,
    CONF_POLYGON,
    CONF_SOURCE,
    CONF_TAG_ID,
    CONF_TAG_PREFIX,
    CONF_ZONE,
    DOMAIN,
    KIND_ASSET_REGISTER,
    MAX_NOT_SEEN_HOURS,
    SUBENTRY_ASSET,
    SUBENTRY_GEOFENCE,
)
from ..flow import FlowError
from .runtime import RegisterSettings

MAX_NAME: Final = 100
MAX_TAG_ID: Final = 200
# The placeholders the library's geofence errors use; every one is given (empty when the
# error at hand does not name it), so no translated text ever shows a raw {placeholder}.
GEOFENCE_PLACEHOLDERS: Final = (
    "where", "detail", "kind", "count", "limit", "length", "value", "other", "message",
)  # fmt: skip
# The codes of the library's geofence errors that have a translated text of their own
# ("polygon_<code>"); any other code shows "invalid_polygon" with the library's message.
GEOFENCE_CODES: Final = frozenset(
    {
        "not_text", "too_long", "empty", "bad_json", "not_geometry", "no_geometry",
        "bad_structure", "not_polygon", "bad_position", "bad_wkt", "too_many_vertices",
        "latitude_range", "longitude_range", "ring_too_short", "ring_not_closed",
        "encircles_pole", "degenerate_ring", "self_intersection",
    }
)  # fmt: skip
# Entities that have a position even when they have not reported one yet.
POSITION_DOMAINS: Final = ("device_tracker", "person", "zone")

NOT_SEEN_SELECTOR = NumberSelector(
    NumberSelectorConfig(
        min=1, max=MAX_NOT_SEEN_HOURS, step=1, mode=NumberSelectorMode.BOX,
        unit_of_measurement="h",
    )
)  # fmt: skip
CATEGORY_SELECTOR = SelectSelector(
    SelectSelectorConfig(
        options=list(ASSET_CATEGORIES),
        mode=SelectSelectorMode.DROPDOWN,
        translation_key="asset_category",
    )
)
ZONE_SELECTOR = EntitySelector(EntitySelectorConfig(domain="zone"))
INTERVAL_SELECTOR = NumberSelector(
    NumberSelectorConfig(min=0.1, max=1_000_000, step="any", mode=NumberSelectorMode.BOX)
)


def _register_form(settings: RegisterSettings) -> tuple[probatio.Schema, dict[str, Any]]:
    schema = probatio.Schema(
        {
            probatio.Required(CONF_TAG_PREFIX): TextSelector(),
            probatio.Required(CONF_OVERDUE_REMINDERS): BooleanSelector(),
            probatio.Required(CONF_NOT_SEEN_HOURS): NOT_SEEN_SELECTOR,
        }
    )
    return schema, settings.as_options()


def _register_settings(user_input: Mapping[str, Any]) -> RegisterSettings:
    """The settings the form was submitted with.

    Raises:
        FlowError: The library refuses the tag prefix.
    """
    try:
        prefix = check_prefix(str(user_input[CONF_TAG_PREFIX]).strip())
    except AssetsError as err:
        raise FlowError("invalid_tag_prefix") from err
    return RegisterSettings(
        tag_prefix=prefix,
        overdue_reminders=bool(user_input[CONF_OVERDUE_REMINDERS]),
        not_seen_hours=int(user_input[CONF_NOT_SEEN_HOURS]),
    )


class AssetSteps(ConfigFlow):
    """The config flow's asset register step (a mixin of the integration's config flow)."""

    async def async_step_asset_register(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Set up the asset register: tag prefix, overdue reminders, "not seen" threshold."""
        if self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, ASSET_REGISTER_UNIQUE_ID
        ):
            return self.async_abort(reason="register_exists")
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                settings = _register_settings(user_input)
            except FlowError as err:
                errors[CONF_TAG_PREFIX] = err.key
            else:
                await self.async_set_unique_id(ASSET_REGISTER_UNIQUE_ID, raise_on_progress=False)
                self._abort_if_unique_id_configured(error="register_exists")
                return self.async_create_entry(
                    title="Asset register",
                    data={CONF_KIND: KIND_ASSET_REGISTER},
                    options=settings.as_options(),
                )
        schema, defaults = _register_form(RegisterSettings())
        return self.async_show_form(
            step_id="asset_register",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or defaults),
            errors=errors,
        )

    async def _async_register_reconfigure(self) -> ConfigFlowResult:
        """The register has no address; its settings are in its options."""
        return self.async_abort(reason="register_reconfigure")


class AssetRegisterOptionsFlow(OptionsFlow):
    """The register's tag prefix, overdue reminders and "not seen" threshold."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Open the register's settings."""
        return await self.async_step_register()

    async def async_step_register(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the register's settings (the entry reloads with them)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                settings = _register_settings(user_input)
            except FlowError as err:
                errors[CONF_TAG_PREFIX] = err.key
            else:
                return self.async_create_entry(data=settings.as_options())
        schema, current = _register_form(RegisterSettings.from_options(self.config_entry.options))
        return self.async_show_form(
            step_id="register",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or current),
            errors=errors,
        )


# -- assets -----------------------------------------------------------------------------------


def _text(user_input: Mapping[str, Any], key: str) -> str:
    return str(user_input.get(key) or "").strip()


def _check_source(hass: HomeAssistant, source: str) -> None:
    """``source`` exists and has (or can have) a position.

    Raises:
        FlowError: ``source_not_found`` or ``source_without_position``, naming it.
    """
    state = hass.states.get(source)
    if state is None and er.async_get(hass).async_get(source) is None:
        raise FlowError("source_not_found", {"entity": source})
    has_position = state is not None and (
        ATTR_LATITUDE in state.attributes and ATTR_LONGITUDE in state.attributes
    )
    if not has_position and source.split(".", 1)[0] not in POSITION_DOMAINS:
        raise FlowError("source_without_position", {"entity": source})


def _parent_cycle(entry: ConfigEntry[Any], own: str | None, parent: str) -> bool:
    """Whether making ``parent`` the parent of subentry ``own`` closes a loop."""
    seen: set[str] = set()
    current: str | None = parent
    while current and current not in seen:
        if current == own:
            return True
        seen.add(current)
        subentry = entry.subentries.get(current)
        current = subentry.data.get(CONF_PARENT) if subentry is not None else None
    return False


class AssetSubentryFlow(ConfigSubentryFlow):
    """Add or change an asset of the register."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the new asset's details."""
        return await self._async_asset_form("user", None, user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change an asset's details."""
        return await self._async_asset_form(
            "reconfigure", self._get_reconfigure_subentry().subentry_id, user_input
        )

    def _validate(
        self, own: str | None, name: str, user_input: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The subentry data from the form.

        Raises:
            FlowError: What is wrong; ``field`` in its placeholders names the form field.
        """
        if not name:
            raise FlowError("empty_name", {"field": CONF_NAME})
        entry = self._get_entry()
        others = [s for s in entry.get_subentries_of_type(SUBENTRY_ASSET) if s.subentry_id != own]
        taken = {str(s.data.get(CONF_ASSET_TAG, "")): s.title for s in others}
        tag = _text(user_input, CONF_ASSET_TAG)
        if not tag:
            tag = next_tag(RegisterSettings.from_options(entry.options).tag_prefix, taken)
        else:
            try:
                tag = check_tag(tag, taken)
            except AssetsError as err:
                owner = next((n for t, n in taken.items() if t.casefold() == tag.casefold()), "")
                key = "asset_tag_taken" if err.code == "duplicate_tag" else "invalid_asset_tag"
                raise FlowError(
                    key, {"field": CONF_ASSET_TAG, "tag": tag[:40], "name": owner}
                ) from err
        parent = _text(user_input, CONF_PARENT)
        if parent and _parent_cycle(entry, own, parent):
            raise FlowError("parent_cycle", {"field": CONF_PARENT})
        source = _text(user_input, CONF_SOURCE)
        if source:
            try:
                _check_source(self.hass, source)
            except FlowError as err:
                err.placeholders["field"] = CONF_SOURCE
                raise
        allowed_from = _text(user_input, CONF_ALLOWED_FROM)
        allowed_until = _text(user_input, CONF_ALLOWED_UNTIL)
        if bool(allowed_from) != bool(allowed_until):
            raise FlowError("allowed_hours_incomplete", {"field": CONF_ALLOWED_UNTIL})
        tag_id = _text(user_input, CONF_TAG_ID)[:MAX_TAG_ID]
        if tag_id:
            for other in others:
                if other.data.get(CONF_TAG_ID) == tag_id:
                    raise FlowError("tag_id_taken", {"field": CONF_TAG_ID, "name": other.title})
        geofences = [g for g in user_input.get(CONF_GEOFENCES) or () if g in entry.subentries]
        data: dict[str, Any] = {
            CONF_ASSET_TAG: tag,
            CONF_CATEGORY: str(user_input.get(CONF_CATEGORY) or "other"),
            CONF_HOME_ZONE: _text(user_input, CONF_HOME_ZONE) or zone.ENTITY_ID_HOME,
            CONF_PARENT: parent or None,
            CONF_SOURCE: source or None,
            CONF_GEOFENCES: geofences,
            CONF_ALLOWED_FROM: allowed_from or None,
            CONF_ALLOWED_UNTIL: allowed_until or None,
            CONF_PLAN_NAME: _text(user_input, CONF_PLAN_NAME) or None,
            CONF_TAG_ID: tag_id or None,
        }
        for key in (CONF_EVERY_HOURS, CONF_EVERY_KM, CONF_EVERY_DAYS):
            value = user_input.get(key)
            data[key] = float(value) if value else None
        return data

    async def _async_asset_form(
        self, step_id: str, own: str | None, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        entry = self._get_entry()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {"tag": "", "name": "", "entity": ""}
        if user_input is not None:
            name = _text(user_input, CONF_NAME)[:MAX_NAME]
            try:
                data = self._validate(own, name, user_input)
            except FlowError as err:
                errors[err.placeholders.pop("field", "base")] = err.key
                placeholders.update(err.placeholders)
            else:
                if own is None:
                    return self.async_create_entry(title=name, data=data)
                return self.async_update_and_abort(
                    entry, self._get_reconfigure_subentry(), title=name, data=data
                )
        current: dict[str, Any] = {CONF_CATEGORY: "other", CONF_HOME_ZONE: zone.ENTITY_ID_HOME}
        if own is not None:
            subentry = entry.subentries[own]
            current = {CONF_NAME: subentry.title} | {
                k: v for k, v in subentry.data.items() if v is not None
            }
        parents = [
            SelectOptionDict(value=s.subentry_id, label=s.title)
            for s in entry.get_subentries_of_type(SUBENTRY_ASSET)
            if s.subentry_id != own
        ]
        geofences = [
            SelectOptionDict(value=s.subentry_id, label=s.title)
            for s in entry.get_subentries_of_type(SUBENTRY_GEOFENCE)
        ]
        schema = probatio.Schema(
            {
                probatio.Required(CONF_NAME): TextSelector(),
                probatio.Optional(CONF_ASSET_TAG): TextSelector(),
                probatio.Required(CONF_CATEGORY): CATEGORY_SELECTOR,
                probatio.Required(CONF_HOME_ZONE): ZONE_SELECTOR,
                probatio.Optional(CONF_PARENT): SelectSelector(
                    SelectSelectorConfig(options=parents, mode=SelectSelectorMode.DROPDOWN)
                ),
                probatio.Optional(CONF_SOURCE): EntitySelector(),
                probatio.Optional(CONF_GEOFENCES): SelectSelector(
                    SelectSelectorConfig(
                        options=geofences, multiple=True, mode=SelectSelectorMode.LIST
                    )
                ),
                probatio.Optional(CONF_ALLOWED_FROM): TimeSelector(),
                probatio.Optional(CONF_ALLOWED_UNTIL): TimeSelector(),
                probatio.Optional(CONF_PLAN_NAME): TextSelector(),
                probatio.Optional(CONF_EVERY_HOURS): INTERVAL_SELECTOR,
                probatio.Optional(CONF_EVERY_KM): INTERVAL_SELECTOR,
                probatio.Optional(CONF_EVERY_DAYS): INTERVAL_SELECTOR,
                probatio.Optional(CONF_TAG_ID): TextSelector(),
            }
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, user_input or current),
            errors=errors,
            description_placeholders=placeholders,
        )


# -- geofences ----------------------------------------------------------------------------------


def geofence_error(err: AssetsError) -> FlowError:
    """The form error for a geofence the library refused: its code, its placeholders."""
    placeholders = dict.fromkeys(GEOFENCE_PLACEHOLDERS, "")
    placeholders.update({k: v for k, v in err.placeholders.items() if k in placeholders})
    placeholders["message"] = str(err)[:300]
    key = f"polygon_{err.code}" if err.code in GEOFENCE_CODES else "invalid_polygon"
    return FlowError(key, placeholders)


class GeofenceSubentryFlow(ConfigSubentryFlow):
    """Add or change a polygon geofence that refines a Home Assistant zone."""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Ask for the geofence's name, zone and polygon."""
        return await self._async_geofence_form("user", None, user_input)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> SubentryFlowResult:
        """Change a geofence."""
        return await self._async_geofence_form(
            "reconfigure", self._get_reconfigure_subentry().subentry_id, user_input
        )

    async def _async_geofence_form(
        self, step_id: str, own: str | None, user_input: dict[str, Any] | None
    ) -> SubentryFlowResult:
        entry = self._get_entry()
        errors: dict[str, str] = {}
        placeholders = dict.fromkeys(GEOFENCE_PLACEHOLDERS, "")
        if user_input is not None:
            name = _text(user_input, CONF_NAME)[:MAX_NAME]
            zone_id = _text(user_input, CONF_ZONE)
            polygon = str(user_input.get(CONF_POLYGON) or "")
            if not name:
                errors[CONF_NAME] = "empty_name"
            elif self.hass.states.get(zone_id) is None:
                errors[CONF_ZONE] = "zone_not_found"
            else:
                try:
                    parse_geofence(polygon)
                except AssetsError as err:
                    flow_error = geofence_error(err)
                    errors[CONF_POLYGON] = flow_error.key
                    placeholders.update(flow_error.placeholders)
                else:
                    data = {CONF_ZONE: zone_id, CONF_POLYGON: polygon.strip()}
                    if own is None:
                        return self.async_create_entry(title=name, data=data)
                    return self.async_update_and_abort(
                        entry, self._get_reconfigure_subentry(), title=name, data=data
                    )
        current: dict[str, Any] = {}
        if own is not None:
            subentry = entry.subentries[own]
            current = {CONF_NAME: subentry.title, **subentry.data}
        schema = probatio.Schema(
            {
                probatio.Required(CONF_NAME): TextSelector(),
                probatio.Required(CONF_ZONE): ZONE_SELECTOR,
                probatio.Required(CONF_POLYGON): TextSelector(TextSelectorConfig(multiline=True)),
            }
        )
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(schema, user_input or current),
            errors=errors,
            description_placeholders=placeholders,
        )


SUBENTRY_FLOWS: Final[Mapping[str, type[ConfigSubentryFlow]]] = {
    SUBENTRY_ASSET: AssetSubentryFlow,
    SUBENTRY_GEOFENCE: GeofenceSubentryFlow,
}
