"""Actions (read/write property, invoke action), diagnostics and device triggers."""

from __future__ import annotations

from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.components.device_automation.exceptions import InvalidDeviceAutomationConfig
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_get_device_automations,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.thingbridge import device_trigger
from custom_components.thingbridge.const import CONF_KIND, DOMAIN, KIND_WOT_THING
from custom_components.thingbridge.wot.td import DEPTH_MARKER, MAX_TD_DEPTH
from simulator.things import DEFAULT_PASSWORD, DEFAULT_USERNAME
from simulator.wot import WotSimulator
from tests.conftest import StaticServer

from .test_init import wait_for


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_read_property_returns_value(
    hass: HomeAssistant, wot_sim: WotSimulator, sensor_entry: MockConfigEntry
) -> None:
    await _setup(hass, sensor_entry)
    wot_sim.things["sensor"].properties["temperature"].value = 19.75
    response = await hass.services.async_call(
        DOMAIN,
        "read_property",
        {"config_entry_id": sensor_entry.entry_id, "property": "temperature"},
        blocking=True,
        return_response=True,
    )
    assert response == {"value": 19.75}


async def test_read_property_errors(
    hass: HomeAssistant, wot_sim: WotSimulator, sensor_entry: MockConfigEntry
) -> None:
    await _setup(hass, sensor_entry)

    async def call(entry_id: str, prop: str = "temperature") -> None:
        await hass.services.async_call(
            DOMAIN,
            "read_property",
            {"config_entry_id": entry_id, "property": prop},
            blocking=True,
            return_response=True,
        )

    with pytest.raises(ServiceValidationError) as err:
        await call("nope")
    assert err.value.translation_key == "entry_not_found"

    with pytest.raises(ServiceValidationError) as err:
        await call(sensor_entry.entry_id, "pressure")
    assert err.value.translation_key == "unknown_property"

    await wot_sim.stop()
    with pytest.raises(HomeAssistantError) as err:
        await call(sensor_entry.entry_id)
    assert err.value.translation_key == "operation_failed"
    assert "Simulated Temperature Sensor" in str(err.value.translation_placeholders)

    other = MockConfigEntry(
        domain=DOMAIN, title="Off", unique_id="off",
        data={CONF_KIND: KIND_WOT_THING, "url": "http://127.0.0.1:9/"},
    )  # fmt: skip
    other.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await call(other.entry_id)
    assert err.value.translation_key == "entry_not_loaded"


async def test_write_property_and_invoke_action(
    hass: HomeAssistant, wot_sim_all: WotSimulator, device_registry: dr.DeviceRegistry
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Lamp",
        unique_id="urn:thingbridge:simulator:lamp",
        data={CONF_KIND: KIND_WOT_THING, "url": wot_sim_all.url_of("lamp")},
    )
    await _setup(hass, entry)
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, "urn:thingbridge:simulator:lamp"), entry.entry_id
    )
    assert device is not None

    await hass.services.async_call(
        DOMAIN,
        "write_property",
        {"device_id": device.id, "property": "brightness", "value": 42},
        blocking=True,
    )
    assert wot_sim_all.get_property("lamp", "brightness") == 42

    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "write_property",
            {"device_id": device.id, "property": "brightness", "value": 400},
            blocking=True,
        )
    assert err.value.translation_key == "invalid_value"
    assert "brightness must be at most 100" in str(err.value.translation_placeholders)
    assert wot_sim_all.get_property("lamp", "brightness") == 42

    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "write_property",
            {"config_entry_id": entry.entry_id, "property": "nope", "value": 1},
            blocking=True,
        )
    assert err.value.translation_key == "unknown_writable_property"

    before = wot_sim_all.get_property("lamp", "on")
    response = await hass.services.async_call(
        DOMAIN,
        "invoke_action",
        {"config_entry_id": entry.entry_id, "action": "toggle"},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["status"] == "completed"
    assert wot_sim_all.get_property("lamp", "on") is (not before)

    # An asynchronous action: the service waits for the device to finish it.
    response = await hass.services.async_call(
        DOMAIN,
        "invoke_action",
        {"device_id": device.id, "action": "fade", "input": {"brightness": 10, "duration": 0}},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert response["status"] == "completed"
    assert wot_sim_all.get_property("lamp", "brightness") == 10

    for data, key in (
        ({"device_id": device.id, "action": "explode"}, "unknown_action"),
        ({"device_id": device.id, "action": "fade", "input": {"brightness": "x"}}, "invalid_value"),
        ({"device_id": "missing", "action": "toggle"}, "device_not_found"),
        ({"action": "toggle"}, "no_target"),
    ):
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN, "invoke_action", data, blocking=True, return_response=True
            )
        assert err.value.translation_key == key
    await hass.config_entries.async_unload(entry.entry_id)


async def test_diagnostics_redact_credentials(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    wot_sim_all: WotSimulator,
    device_registry: dr.DeviceRegistry,
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Lock",
        unique_id="urn:thingbridge:simulator:lock",
        data={
            CONF_KIND: KIND_WOT_THING,
            "url": wot_sim_all.url_of("lock"),
            "username": DEFAULT_USERNAME,
            "password": DEFAULT_PASSWORD,
        },
    )
    await _setup(hass, entry)
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert diag["entry"]["data"]["password"] == "**REDACTED**"
    assert diag["entry"]["data"]["username"] == "**REDACTED**"
    assert f"'{DEFAULT_PASSWORD}'" not in str(diag)
    [thing] = diag["things"]
    assert thing["title"] == "Simulated Door Lock"
    assert thing["security"] == ["basic"]
    assert thing["thing_description"]["title"] == "Simulated Door Lock"
    assert thing["last_update_success"] is True
    assert {e["platform"] for e in thing["entities"]} == {"lock", "event"}
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, "urn:thingbridge:simulator:lock"), entry.entry_id
    )
    assert device is not None
    device_diag = await get_diagnostics_for_device(hass, hass_client, entry, device)
    assert device_diag["title"] == "Simulated Door Lock"
    assert f"'{DEFAULT_PASSWORD}'" not in str(device_diag)
    await hass.config_entries.async_unload(entry.entry_id)


async def test_device_trigger_fires_on_thing_event(
    hass: HomeAssistant, wot_sim_all: WotSimulator, device_registry: dr.DeviceRegistry
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Sensor",
        unique_id="urn:thingbridge:simulator:sensor",
        data={CONF_KIND: KIND_WOT_THING, "url": wot_sim_all.url_of("sensor")},
    )
    await _setup(hass, entry)
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, "urn:thingbridge:simulator:sensor"), entry.entry_id
    )
    assert device is not None
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, device.id)
    ours = [t for t in triggers if t["domain"] == DOMAIN]
    assert ours == [
        {
            "platform": "device",
            "domain": DOMAIN,
            "device_id": device.id,
            "type": "thing_event",
            "subtype": "motionDetected",
            "metadata": {},
        }
    ]
    calls: list[dict[str, object]] = []

    async def record(call: ServiceCall) -> None:
        calls.append(dict(call.data))

    hass.services.async_register("test", "record", record)
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "trigger": {
                    "platform": "device",
                    "domain": DOMAIN,
                    "device_id": device.id,
                    "type": "thing_event",
                    "subtype": "motionDetected",
                },
                "action": {
                    "service": "test.record",
                    "data": {"data": "{{ trigger.event.data.data }}"},
                },
            }
        },
    )
    await wait_for(
        hass,
        lambda: any("event" in sub.kinds for sub in wot_sim_all.live),
        "the sensor's event subscription",
    )
    wot_sim_all.emit_event("sensor", "motionDetected", "2026-11-25T10:00:00Z")
    await wait_for(hass, lambda: bool(calls), "the automation to run")
    assert calls == [{"data": "2026-11-25T10:00:00Z"}]
    # A device without a loaded Thing has no triggers.
    other = device_registry.async_get_or_create(
        config_entry_id=entry.entry_id, identifiers={(DOMAIN, "urn:other")}
    )
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, other.id)
    assert not [t for t in triggers if t["domain"] == DOMAIN]

    # A trigger on an event the Thing does not have is refused while the Thing is loaded.
    config = {**ours[0], "subtype": "doorbell"}
    del config["metadata"]
    with pytest.raises(InvalidDeviceAutomationConfig) as err:
        await device_trigger.async_validate_trigger_config(hass, config)
    assert err.value.translation_key == "unknown_event"
    valid = {**config, "subtype": "motionDetected"}
    assert await device_trigger.async_validate_trigger_config(hass, valid) == valid
    await hass.config_entries.async_unload(entry.entry_id)
    # Unloaded, there is nothing to check it against: it is kept.
    assert await device_trigger.async_validate_trigger_config(hass, config) == config


async def test_diagnostics_hide_a_password_in_the_url(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, wot_sim: WotSimulator
) -> None:
    """An entry made before the flow refused credentials in URLs keeps its password out."""
    url = wot_sim.url_of("sensor").replace("http://", "http://admin:s3cret-pw@", 1)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Sensor",
        unique_id="urn:thingbridge:simulator:sensor",
        data={CONF_KIND: KIND_WOT_THING, "url": url},
    )
    await _setup(hass, entry)
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert "s3cret-pw" not in str(diag)
    assert diag["entry"]["data"]["url"] == url.replace("s3cret-pw", "**REDACTED**")
    await hass.config_entries.async_unload(entry.entry_id)


async def test_secrets_in_the_url_query_stay_out_of_diagnostics_and_errors(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, wot_sim: WotSimulator
) -> None:
    """``?access_token=`` in a TD URL is masked like a password (diagnostics, setup errors)."""
    url = f"{wot_sim.url_of('sensor')}?access_token=s3cret-tok&page=1"
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Sensor",
        unique_id="urn:thingbridge:simulator:sensor",
        data={CONF_KIND: KIND_WOT_THING, "url": url},
    )
    await _setup(hass, entry)
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    assert "s3cret-tok" not in str(diag)
    assert diag["entry"]["data"]["url"] == url.replace("s3cret-tok", "**REDACTED**")
    await hass.config_entries.async_unload(entry.entry_id)
    down = MockConfigEntry(
        domain=DOMAIN,
        title="Down",
        unique_id="down",
        data={CONF_KIND: KIND_WOT_THING, "url": "http://127.0.0.1:9/td?key=s3cret-key"},
    )
    down.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(down.entry_id)
    assert down.state is ConfigEntryState.SETUP_RETRY
    assert "at http://127.0.0.1:9/td?key=***:" in (down.reason or "")
    assert "s3cret-key" not in (down.reason or "")


async def test_diagnostics_survive_absurdly_nested_json(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, http_server: StaticServer
) -> None:
    """A value nested 15,000 levels deep (json.loads takes it) is clipped in diagnostics.

    A TD nested that deep is refused when it is parsed (with a message naming the limit);
    a value read from a Thing is not, and diagnostics walk it recursively to redact and
    serialise it.
    """
    deep = '{"a":' * 15_000 + "1" + "}" * 15_000
    http_server.add("/blob", deep)
    http_server.add(
        "/td",
        {
            "title": "Deep",
            "id": "urn:test:deep",
            "properties": {
                "blob": {"type": "object", "readOnly": True, "forms": [{"href": "/blob"}]}
            },
        },
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Deep",
        unique_id="urn:test:deep",
        data={CONF_KIND: KIND_WOT_THING, "url": http_server.url("/td")},
    )
    await _setup(hass, entry)
    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    [thing] = diag["things"]
    value = thing["values"]["blob"]
    for _ in range(MAX_TD_DEPTH - 1):
        value = value["a"]
    assert value == DEPTH_MARKER
    await hass.config_entries.async_unload(entry.entry_id)

    http_server.add(
        "/td",
        f'{{"title": "Deep", "id": "urn:test:deep", "vendor": {deep}, "properties": '
        '{"blob": {"type": "object", "forms": [{"href": "/blob"}]}}}',
    )
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert f"JSON nested deeper than {MAX_TD_DEPTH} levels" in (entry.reason or "")


async def test_a_write_the_thing_cannot_take_is_not_called_an_invalid_value(
    hass: HomeAssistant, http_server: StaticServer
) -> None:
    """Only a value that does not fit is the caller's mistake; a TD's fault is the device's.

    The write form points at a host the entry does not allow: the library refuses it before
    sending (a WotValidationError, not a value error), and the action says the operation
    failed rather than "invalid value".
    """
    http_server.add("/level", "5")
    http_server.add(
        "/td",
        {
            "title": "Elsewhere",
            "id": "urn:test:elsewhere",
            "properties": {
                "level": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 10,
                    "forms": [
                        {"href": "/level", "op": "readproperty"},
                        {"href": "http://127.0.0.2:9/level", "op": "writeproperty"},
                    ],
                }
            },
        },
    )
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Elsewhere",
        unique_id="urn:test:elsewhere",
        data={CONF_KIND: KIND_WOT_THING, "url": http_server.url("/td")},
    )
    await _setup(hass, entry)
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "write_property",
            {"config_entry_id": entry.entry_id, "property": "level", "value": 3},
            blocking=True,
        )
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "operation_failed"
    assert "127.0.0.2:9" in str(err.value.translation_placeholders)
    with pytest.raises(ServiceValidationError) as verr:  # a value that does not fit still is
        await hass.services.async_call(
            DOMAIN,
            "write_property",
            {"config_entry_id": entry.entry_id, "property": "level", "value": 11},
            blocking=True,
        )
    assert verr.value.translation_key == "invalid_value"
    assert [method for method, _path, _body in http_server.requests if method == "PUT"] == []
    await hass.config_entries.async_unload(entry.entry_id)
