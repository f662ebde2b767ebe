"""Sensors for the properties of Web of Things Things."""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.const import (
    PERCENTAGE,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfPower,
    UnitOfPressure,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ThingBridgeConfigEntry, WotThingCoordinator
from .entity import WotThingEntity
from .wot.td import PropertyAffordance
from .wot.units import canonical_unit

PARALLEL_UPDATES = 0

# canonical unit -> (device class, Home Assistant unit, state class)
_UNIT_MAP: dict[str, tuple[SensorDeviceClass | None, str, SensorStateClass]] = {
    "°C": (SensorDeviceClass.TEMPERATURE, UnitOfTemperature.CELSIUS, SensorStateClass.MEASUREMENT),
    "°F": (
        SensorDeviceClass.TEMPERATURE,
        UnitOfTemperature.FAHRENHEIT,
        SensorStateClass.MEASUREMENT,
    ),
    "K": (SensorDeviceClass.TEMPERATURE, UnitOfTemperature.KELVIN, SensorStateClass.MEASUREMENT),
    "%": (None, PERCENTAGE, SensorStateClass.MEASUREMENT),
    "W": (SensorDeviceClass.POWER, UnitOfPower.WATT, SensorStateClass.MEASUREMENT),
    "kW": (SensorDeviceClass.POWER, UnitOfPower.KILO_WATT, SensorStateClass.MEASUREMENT),
    "Wh": (SensorDeviceClass.ENERGY, UnitOfEnergy.WATT_HOUR, SensorStateClass.TOTAL_INCREASING),
    "kWh": (
        SensorDeviceClass.ENERGY,
        UnitOfEnergy.KILO_WATT_HOUR,
        SensorStateClass.TOTAL_INCREASING,
    ),
    "V": (SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT, SensorStateClass.MEASUREMENT),
    "A": (SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE, SensorStateClass.MEASUREMENT),
    "hPa": (SensorDeviceClass.PRESSURE, UnitOfPressure.HPA, SensorStateClass.MEASUREMENT),
    "Pa": (SensorDeviceClass.PRESSURE, UnitOfPressure.PA, SensorStateClass.MEASUREMENT),
}


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor for every readable property of the Thing."""
    coordinator = entry.runtime_data
    async_add_entities(
        WotPropertySensor(coordinator, prop)
        for prop in coordinator.td.properties.values()
        if prop.form_for("readproperty") is not None
    )


class WotPropertySensor(WotThingEntity, SensorEntity):
    """The value of one readable property."""

    def __init__(self, coordinator: WotThingCoordinator, prop: PropertyAffordance) -> None:
        """Describe the sensor from the property's data schema."""
        super().__init__(coordinator, prop.name)
        self._attr_name = prop.title or prop.name
        self._numeric = prop.schema.type in ("number", "integer")
        unit = canonical_unit(prop.schema.unit)
        if self._numeric and unit in _UNIT_MAP:
            device_class, native_unit, state_class = _UNIT_MAP[unit]
            self._attr_device_class = device_class
            self._attr_native_unit_of_measurement = native_unit
            self._attr_state_class = state_class
        elif self._numeric:
            self._attr_native_unit_of_measurement = prop.schema.unit
            self._attr_state_class = SensorStateClass.MEASUREMENT

    @property
    def native_value(self) -> Any:
        """The last value read, or ``None`` (unknown) when the read failed."""
        value = self.coordinator.data.get(self.affordance)
        if self._numeric:
            return value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if value is None or isinstance(value, dict | list):
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)[:255]
