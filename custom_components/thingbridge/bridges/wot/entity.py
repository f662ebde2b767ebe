"""Base entity for ThingBridge, and the glue that adds entities as Things come and go."""

from __future__ import annotations

from collections.abc import Callable
import json
from typing import Any

from homeassistant.const import EntityCategory
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from ...const import DOMAIN, KIND_WOT_THING, device_identifier
from ...wot import ActionResult, DataSchema, EntitySpec, device_model, schema_error
from .coordinator import WotConfigEntry, WotThingCoordinator

MAX_ERROR_LENGTH = 200


def async_setup_platform(
    entry: WotConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    platform: str,
    factory: Callable[[WotThingCoordinator, EntitySpec], Entity],
) -> None:
    """Add ``platform``'s entities for every Thing now and for every Thing that joins later.

    The Things there now are added in one call: each call is a task of Home Assistant's, and
    a directory of thousands of Things would otherwise make thousands per platform.
    """

    def add(coordinator: WotThingCoordinator) -> None:
        async_add_entities(
            factory(coordinator, spec) for spec in coordinator.specs if spec.platform == platform
        )

    runtime = entry.runtime_data
    async_add_entities(
        [
            factory(coordinator, spec)
            for coordinator in runtime.things.values()
            for spec in coordinator.specs
            if spec.platform == platform
        ]
    )
    entry.async_on_unload(runtime.async_on_thing_added(add))


def wot_platform(
    platform: str, factory: Callable[[WotThingCoordinator, EntitySpec], Entity]
) -> Callable[[WotConfigEntry, AddConfigEntryEntitiesCallback], None]:
    """A platform's row for the Web of Things kinds: ``platform``'s entities, made by ``factory``."""

    def setup(entry: WotConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback) -> None:
        async_setup_platform(entry, async_add_entities, platform, factory)

    return setup


def is_number(value: Any) -> bool:
    """True for JSON numbers (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def describe_error(error: Any) -> str:
    """A short text for an action's error (an RFC 7807 problem, a string, or anything)."""
    if isinstance(error, dict):
        parts = [str(error[key]) for key in ("title", "detail") if error.get(key)]
        text = ": ".join(parts) if parts else json.dumps(error, default=str)
    elif error is None:
        text = "the Thing reported a failure without details"
    else:
        text = str(error)
    return text[:MAX_ERROR_LENGTH]


def thing_device_info(coordinator: WotThingCoordinator) -> DeviceInfo:
    """The Thing's device, made once and shared by its entities (Home Assistant only reads it)."""
    if coordinator.device_info is None:
        td = coordinator.td
        base = td.base or td.source_url
        coordinator.device_info = DeviceInfo(
            identifiers={device_identifier(KIND_WOT_THING, coordinator.key)},
            name=td.title,
            manufacturer=td.manufacturer,
            model=device_model(td),
            serial_number=td.serial_number,
            sw_version=td.sw_version,
            hw_version=td.hw_version,
            configuration_url=str(base.origin())
            if base is not None and base.scheme in ("http", "https")
            else None,
        )
    return coordinator.device_info


class WotThingEntity(CoordinatorEntity[WotThingCoordinator]):
    """An entity backed by one or more affordances of a Web of Things Thing."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Describe the entity from its mapping and put it on the Thing's device."""
        super().__init__(coordinator)
        self.spec = spec
        self.affordance = spec.affordance
        self._attr_unique_id = f"{coordinator.key}_{spec.key}"
        # The main entity of a Thing (name None) takes the device's name.
        self._attr_name = spec.name
        self._attr_entity_registry_enabled_default = spec.enabled_default
        # An entity that invokes an action shows the value it last sent (the Thing has no
        # property to read it back from).
        self._sent: Any = None
        if spec.action_input is not None:
            self._attr_assumed_state = True
        if spec.entity_category is not None:
            self._attr_entity_category = EntityCategory(spec.entity_category)
        self._attr_device_info = thing_device_info(coordinator)

    @property
    def available(self) -> bool:
        """Unavailable while the Thing is, or while one of the entity's properties failed.

        A Modbus device whose block of registers is refused keeps its other entities.
        """
        failed = self.coordinator.unavailable_properties
        if failed and (
            self.affordance in failed or not failed.isdisjoint(self.spec.roles.values())
        ):
            return False
        return super().available

    def property_name(self, role: str | None = None) -> str:
        """The name of the property playing ``role`` (or of the entity's own property)."""
        return self.spec.roles[role] if role else self.affordance

    def schema(self, role: str | None = None) -> DataSchema:
        """The data schema of the property playing ``role`` (or of the entity's own one)."""
        return self.coordinator.td.properties[self.property_name(role)].schema

    def prop_value(self, role: str | None = None) -> Any:
        """The current value of the property playing ``role`` (or of the entity's affordance)."""
        name = self.spec.roles.get(role) if role else self.affordance
        if name is None or self.coordinator.data is None:
            return None
        return self.coordinator.data.get(name)

    def value_schema(self) -> DataSchema:
        """The schema of the entity's value: its property's, or its action's input."""
        slot = self.spec.action_input
        return slot.schema if slot is not None else self.schema()

    def current_value(self) -> Any:
        """The entity's value: its property's, or what it last sent to its action."""
        return self._sent if self.spec.action_input is not None else self.prop_value()

    async def apply_value(self, value: Any) -> None:
        """Write the entity's property, or invoke its action with ``value`` as the input."""
        slot = self.spec.action_input
        if slot is None:
            await self.write(None, value)
            return
        if error := schema_error(slot.schema, value, f"{self.affordance} input"):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_value",
                translation_placeholders={"error": error},
            )
        await self.invoke(None, slot.build(value), has_input=True)
        self._sent = value
        self.async_write_ha_state()

    def has(self, role: str) -> bool:
        """Whether some affordance plays ``role``."""
        return role in self.spec.roles

    async def write(self, role: str | None, value: Any) -> None:
        """Write the property playing ``role`` (or the entity's own property).

        The value is checked against the property's schema first, so a value the Thing
        would refuse raises :class:`ServiceValidationError` naming the property and the limit.
        """
        name = self.property_name(role)
        if error := schema_error(self.schema(role), value, name):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_value",
                translation_placeholders={"error": error},
            )
        await self.coordinator.async_write_property(name, value)

    async def invoke(
        self, role: str | None, action_input: Any = None, *, has_input: bool = False
    ) -> Any:
        """Invoke the action playing ``role`` (or the entity's own action).

        An action the Thing reports as failed raises :class:`HomeAssistantError`; one still
        running when the client stopped following it is not an error.
        """
        name = self.spec.roles[role] if role else self.affordance
        result = await self.coordinator.async_invoke_action(name, action_input, has_input=has_input)
        if isinstance(result, ActionResult) and result.status == "failed":
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="operation_failed",
                translation_placeholders={
                    "title": self.coordinator.td.title,
                    "error": f"action {name}: {describe_error(result.error)}",
                },
            )
        return result


class ValueRange:
    """A numeric property's range, mapped linearly onto Home Assistant's ``0..top``.

    Brightness (``top`` 255), cover positions and fan speeds (``top`` 100) use it. The range
    comes from the schema's ``minimum``/``maximum`` (else ``default``); values outside it are
    clamped. Integer properties are written as integers.
    """

    def __init__(self, schema: DataSchema, default: tuple[float, float] = (0.0, 100.0)) -> None:
        """Read the range from ``schema``."""
        self.low = schema.minimum if schema.minimum is not None else default[0]
        self.high = schema.maximum if schema.maximum is not None else default[1]
        self.integer = schema.type == "integer"

    @property
    def usable(self) -> bool:
        """False when the schema's range is empty or inverted."""
        return self.high > self.low

    def to_ha(self, value: Any, top: int) -> int | None:
        """``value`` on the ``0..top`` scale; ``None`` when it is not a number."""
        if not is_number(value) or not self.usable:
            return None
        clamped = min(max(float(value), self.low), self.high)
        return round((clamped - self.low) / (self.high - self.low) * top)

    def from_ha(self, level: float, top: int) -> float | int:
        """The property value for ``level`` on the ``0..top`` scale."""
        value = self.low + min(max(level, 0), top) / top * (self.high - self.low)
        return round(value) if self.integer else round(value, 6)

    def native(self, value: float) -> float | int:
        """``value`` typed for the property (integer properties take integers)."""
        return round(value) if self.integer else value
