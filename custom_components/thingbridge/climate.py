"""Climate: thermostats and air conditioners (target and current temperature, mode, action)."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.climate import ClimateEntity
from homeassistant.components.climate.const import (
    ATTR_HVAC_MODE,
    ClimateEntityFeature,
    HVACAction,
    HVACMode,
)
from homeassistant.const import ATTR_TEMPERATURE, UnitOfTemperature
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import WotThingEntity, is_number, wot_platform
from .kinds import WOT_KINDS, ThingBridgeConfigEntry, async_setup_by_kind
from .wot import CLIMATE, EntitySpec, canonical_unit

PARALLEL_UPDATES = 1

# Device mode values (lower-cased) -> Home Assistant HVAC modes.
MODE_MAP: dict[str, HVACMode] = {
    "off": HVACMode.OFF,
    "heat": HVACMode.HEAT,
    "heating": HVACMode.HEAT,
    "cool": HVACMode.COOL,
    "cooling": HVACMode.COOL,
    "auto": HVACMode.AUTO,
    "automatic": HVACMode.AUTO,
    "heat_cool": HVACMode.HEAT_COOL,
    "heatcool": HVACMode.HEAT_COOL,
    "dry": HVACMode.DRY,
    "dehumidification": HVACMode.DRY,
    "dehumidify": HVACMode.DRY,
    "fan": HVACMode.FAN_ONLY,
    "fan_only": HVACMode.FAN_ONLY,
    "fanonly": HVACMode.FAN_ONLY,
    "circulation": HVACMode.FAN_ONLY,
    "ventilation": HVACMode.FAN_ONLY,
}
ACTION_MAP: dict[str, HVACAction] = {
    "off": HVACAction.OFF,
    "heating": HVACAction.HEATING,
    "heat": HVACAction.HEATING,
    "cooling": HVACAction.COOLING,
    "cool": HVACAction.COOLING,
    "idle": HVACAction.IDLE,
    "drying": HVACAction.DRYING,
    "fan": HVACAction.FAN,
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the Thing's thermostat."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


class WotClimate(WotThingEntity, ClimateEntity):
    """A thermostat or air conditioner."""

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Modes from the mode property's enum; limits and unit from the target's schema."""
        super().__init__(coordinator, spec)
        target = self.schema("target_temperature")
        unit = canonical_unit(target.unit)
        self._attr_temperature_unit = (
            UnitOfTemperature.FAHRENHEIT if unit == "°F" else UnitOfTemperature.CELSIUS
        )
        if target.minimum is not None:
            self._attr_min_temp = target.minimum
        if target.maximum is not None:
            self._attr_max_temp = target.maximum
        self._integer = target.type == "integer"
        self._multiple_of = target.multiple_of
        self._attr_target_temperature_step = target.multiple_of or (1.0 if self._integer else 0.5)
        # HVAC mode <-> the device's own mode value.
        self._mode_values: dict[HVACMode, Any] = {}
        if self.has("thermostat_mode"):
            for value in self.schema("thermostat_mode").enum or ():
                mode = MODE_MAP.get(str(value).lower())
                if mode is not None and mode not in self._mode_values:
                    self._mode_values[mode] = value
        modes = list(self._mode_values)
        if not modes:
            modes = [HVACMode.AUTO]
        if self.has("on") and HVACMode.OFF not in modes:
            modes.insert(0, HVACMode.OFF)
        self._attr_hvac_modes = modes
        features = ClimateEntityFeature.TARGET_TEMPERATURE
        if HVACMode.OFF in modes and len(modes) > 1:
            features |= ClimateEntityFeature.TURN_OFF | ClimateEntityFeature.TURN_ON
        self._attr_supported_features = features
        # The mode to return to when switched on.
        self._last_on_mode: HVACMode | None = None
        self._remember_mode()

    def _remember_mode(self) -> None:
        mode = self.hvac_mode
        if mode is not None and mode is not HVACMode.OFF:
            self._last_on_mode = mode

    @callback
    def _handle_coordinator_update(self) -> None:
        """Remember the last mode other than off (turning on returns to it)."""
        self._remember_mode()
        super()._handle_coordinator_update()

    @property
    def current_temperature(self) -> float | None:
        """The measured temperature."""
        value = self.prop_value("temperature")
        return value if is_number(value) else None

    @property
    def target_temperature(self) -> float | None:
        """The setpoint."""
        value = self.prop_value("target_temperature")
        return value if is_number(value) else None

    @property
    def hvac_mode(self) -> HVACMode | None:
        """Off when the on/off property says off, else the device's mode."""
        on = self.prop_value("on") if self.has("on") else True
        if on is False:
            return HVACMode.OFF
        if self.has("thermostat_mode"):
            return MODE_MAP.get(str(self.prop_value("thermostat_mode")).lower())
        return HVACMode.AUTO if on is True else None

    @property
    def hvac_action(self) -> HVACAction | None:
        """What the device is doing, when it says (idle rather than off while the mode is on)."""
        if not self.has("hvac_action"):
            return None
        action = ACTION_MAP.get(str(self.prop_value("hvac_action")).lower())
        if action is HVACAction.OFF and self.hvac_mode not in (HVACMode.OFF, None):
            return HVACAction.IDLE
        return action

    def _setpoint(self, temperature: float) -> float | int:
        """``temperature`` rounded to what the Thing accepts (its ``multipleOf``, integers)."""
        if self._multiple_of:
            temperature = round(round(temperature / self._multiple_of) * self._multiple_of, 6)
        return round(temperature) if self._integer else temperature

    async def async_set_temperature(self, **kwargs: Any) -> None:
        """Write the setpoint (and the mode, when given)."""
        if (mode := kwargs.get(ATTR_HVAC_MODE)) is not None:
            await self.async_set_hvac_mode(mode)
        if (temperature := kwargs.get(ATTR_TEMPERATURE)) is not None:
            await self.write("target_temperature", self._setpoint(temperature))

    async def async_set_hvac_mode(self, hvac_mode: HVACMode) -> None:
        """Write the mode; OFF switches the on/off property when there is one."""
        if hvac_mode == HVACMode.OFF and self.has("on"):
            await self.write("on", False)
            return
        if hvac_mode in self._mode_values:
            await self.write("thermostat_mode", self._mode_values[hvac_mode])
        if self.has("on") and self.prop_value("on") is not True:
            await self.write("on", True)

    async def async_turn_on(self) -> None:
        """Switch on, in the mode the Thing was last in (else heat-cool, heat, cool...)."""
        modes = self._attr_hvac_modes
        candidates = (self._last_on_mode, HVACMode.HEAT_COOL, HVACMode.HEAT, HVACMode.COOL, *modes)
        await self.async_set_hvac_mode(
            next(m for m in candidates if m in modes and m is not HVACMode.OFF)
        )

    async def async_turn_off(self) -> None:
        """Switch off."""
        await self.async_set_hvac_mode(HVACMode.OFF)


FACTORIES: Final = dict.fromkeys(WOT_KINDS, wot_platform(CLIMATE, WotClimate))
