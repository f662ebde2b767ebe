"""Lights: a Thing's on/off, brightness, color and color temperature together."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.light import LightEntity
from homeassistant.components.light.const import (
    ATTR_BRIGHTNESS,
    ATTR_COLOR_TEMP_KELVIN,
    ATTR_RGB_COLOR,
    ColorMode,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import ValueRange, WotThingEntity, is_number, wot_platform
from .kinds import WOT_KINDS, ThingBridgeConfigEntry, async_setup_by_kind
from .wot import LIGHT, EntitySpec

PARALLEL_UPDATES = 1
DEFAULT_MIN_KELVIN = 2000
DEFAULT_MAX_KELVIN = 6500
MIRED_UNITS = frozenset({"mired", "mireds", "mirek", "mireks", "mrd"})


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the Thing's light."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


def hex_to_rgb(value: Any) -> tuple[int, int, int] | None:
    """``#ff8000`` (or ``ff8000``, ``#f80``) -> (255, 128, 0); ``None`` for anything else."""
    if not isinstance(value, str):
        return None
    text = value.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    if len(text) != 6:
        return None
    try:
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        return None


class WotLight(WotThingEntity, LightEntity):
    """A light built from the Thing's OnOff/Brightness/Color/ColorTemperature properties.

    A light without an on/off property is on while its brightness is above the minimum; one
    that only offers turn-on/turn-off actions has an assumed state.
    """

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Work out the color modes and ranges from the properties' schemas."""
        super().__init__(coordinator, spec)
        modes: set[ColorMode] = set()
        if self.has("color"):
            modes.add(ColorMode.RGB)
        self._mired = False
        if self.has("color_temp"):
            modes.add(ColorMode.COLOR_TEMP)
            schema = self.schema("color_temp")
            self._mired = (schema.unit or "").strip().lower() in MIRED_UNITS
            low, high = schema.minimum, schema.maximum
            if self._mired:
                # Fewer mireds are bluer: the mired maximum is the kelvin minimum.
                low, high = (1_000_000 / high if high else None), (1_000_000 / low if low else None)
            self._attr_min_color_temp_kelvin = round(low or DEFAULT_MIN_KELVIN)
            self._attr_max_color_temp_kelvin = round(high or DEFAULT_MAX_KELVIN)
        if not modes:
            modes.add(ColorMode.BRIGHTNESS if self.has("brightness") else ColorMode.ONOFF)
        self._attr_supported_color_modes = modes
        self._attr_color_mode = ColorMode.RGB if ColorMode.RGB in modes else next(iter(modes))
        self._range = ValueRange(self.schema("brightness")) if self.has("brightness") else None
        # The level to restore when a light without an on/off property is switched on.
        self._last_level: float | None = None
        # Lights with on/off actions but no on/off property: the state is assumed.
        self._attr_assumed_state = not self.has("on") and self.has("turn_on")
        self._assumed_on: bool | None = None
        self._seen: tuple[Any, Any] = (self.prop_value("color"), self.prop_value("color_temp"))
        self._remember_level()

    def _remember_level(self) -> None:
        level = self.prop_value("brightness")
        if self._range is not None and is_number(level) and level > self._range.low:
            self._last_level = level

    @callback
    def _handle_coordinator_update(self) -> None:
        """Follow which of color and color temperature the Thing changed last."""
        color, temp = self.prop_value("color"), self.prop_value("color_temp")
        last_color, last_temp = self._seen
        if temp != last_temp and color == last_color and self.has("color_temp"):
            self._attr_color_mode = ColorMode.COLOR_TEMP
        elif color != last_color and self.has("color"):
            self._attr_color_mode = ColorMode.RGB
        self._seen = (color, temp)
        self._remember_level()
        super()._handle_coordinator_update()

    @property
    def is_on(self) -> bool | None:
        """On when the on/off property says so (or, without one, when brightness > minimum)."""
        if self.has("on"):
            value = self.prop_value("on")
            return value if isinstance(value, bool) else None
        if self._range is not None:
            level = self.prop_value("brightness")
            return level > self._range.low if is_number(level) else None
        return self._assumed_on

    @property
    def brightness(self) -> int | None:
        """Brightness scaled from the property's range to 0-255 (at least 1 above the minimum)."""
        if self._range is None:
            return None
        level = self.prop_value("brightness")
        scaled = self._range.to_ha(level, 255)
        if scaled == 0 and level > self._range.low:
            return 1
        return scaled

    @property
    def rgb_color(self) -> tuple[int, int, int] | None:
        """The color property as RGB."""
        return hex_to_rgb(self.prop_value("color"))

    @property
    def color_temp_kelvin(self) -> int | None:
        """The color temperature property, in kelvin."""
        value = self.prop_value("color_temp")
        if not is_number(value) or value <= 0:
            return None
        return round(1_000_000 / value) if self._mired else int(value)

    def _level(self, brightness: int) -> float | int:
        """The brightness property's value for Home Assistant's 1-255 ``brightness``."""
        assert self._range is not None
        level = self._range.from_ha(brightness, 255)
        if level <= self._range.low and brightness > 0:
            # Never write "off" for a dim but lit request.
            step = 1 if self._range.integer else (self._range.high - self._range.low) / 255
            level = self._range.native(min(self._range.low + step, self._range.high))
        return level

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch on, then apply brightness/color/temperature if asked."""
        if ATTR_RGB_COLOR in kwargs and self.has("color"):
            self._attr_color_mode = ColorMode.RGB
            red, green, blue = kwargs[ATTR_RGB_COLOR]
            await self.write("color", f"#{red:02x}{green:02x}{blue:02x}")
        if ATTR_COLOR_TEMP_KELVIN in kwargs and self.has("color_temp"):
            self._attr_color_mode = ColorMode.COLOR_TEMP
            kelvin = min(
                max(int(kwargs[ATTR_COLOR_TEMP_KELVIN]), self.min_color_temp_kelvin),
                self.max_color_temp_kelvin,
            )
            await self.write("color_temp", round(1_000_000 / kelvin) if self._mired else kelvin)
        if ATTR_BRIGHTNESS in kwargs and self._range is not None:
            await self.write("brightness", self._level(kwargs[ATTR_BRIGHTNESS]))
        if self.has("on"):
            if self.prop_value("on") is not True:
                await self.write("on", True)
        elif self.has("turn_on"):
            await self.invoke("turn_on")
            self._assumed_on = True
        elif self._range is not None and ATTR_BRIGHTNESS not in kwargs and not self.is_on:
            # Brightness is the only switch: restore the last level, else full.
            await self.write("brightness", self._range.native(self._last_level or self._range.high))
        self.async_write_ha_state()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch off."""
        if self.has("on"):
            await self.write("on", False)
        elif self.has("turn_off"):
            await self.invoke("turn_off")
            self._assumed_on = False
        elif self._range is not None:
            await self.write("brightness", self._range.native(self._range.low))
        self.async_write_ha_state()


FACTORIES: Final = dict.fromkeys(WOT_KINDS, wot_platform(LIGHT, WotLight))
