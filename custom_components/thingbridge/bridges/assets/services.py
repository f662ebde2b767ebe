"""The asset register's actions: check-out, check-in, record maintenance, trip report.

``asset`` names the asset by its asset tag (``VAN-0007``), its device or any of its entities;
``custodian`` is a person entity (``person.anna``) or a name. Every refusal is a translated
validation error that names what is wrong.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
import re
from typing import Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType
import probatio

from ...assets import (
    ALLOWED,
    PURPOSES,
    AssetsError,
    AssetStatus,
    CustodyError,
    Readings,
    TrackFix,
    TripRow,
    check_file_name,
    detect_trips,
    trips_csv,
    trips_gpx,
)
from ...const import ASSET_REGISTER_UNIQUE_ID, DOMAIN
from .runtime import (
    Asset,
    AssetRegisterConfigEntry,
    AssetRegisterRuntime,
)

SERVICE_CHECK_OUT: Final = "check_out"
SERVICE_CHECK_IN: Final = "check_in"
SERVICE_RECORD_MAINTENANCE: Final = "record_maintenance"
ATTR_PLAN: Final = "plan"
ATTR_DATE: Final = "date"
ATTR_ODOMETER: Final = "odometer"
ATTR_ENGINE_HOURS: Final = "engine_hours"
ATTR_COST: Final = "cost"
ATTR_NOTE: Final = "note"
SERVICE_TRIP_REPORT: Final = "trip_report"
SERVICE_SET_STATUS: Final = "set_asset_status"
SERVICE_TAG_TRIP: Final = "tag_trip"
SERVICE_RECOMPUTE_TRIPS: Final = "recompute_trips"
ATTR_PURPOSE: Final = "purpose"
ATTR_TRIP_START: Final = "trip_start"
ATTR_STATUS: Final = "status"
SETTABLE_STATUSES: Final = ("available", "in_maintenance", "retired")
ATTR_ASSETS: Final = "assets"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_TAG_PREFIX: Final = "tag_prefix"
ATTR_FORMATS: Final = "formats"
ATTR_FILE_NAME: Final = "file_name"
# Reports are written here, under the configuration directory; nowhere else.
REPORT_DIRECTORY: Final = "thingbridge_reports"
MAX_REPORT_RANGE: Final = timedelta(days=366)
MAX_REPORT_ASSETS: Final = 500
ATTR_ASSET: Final = "asset"
ATTR_CUSTODIAN: Final = "custodian"
ATTR_EXPECTED_RETURN: Final = "expected_return"
MAX_CUSTODIAN: Final = 100
_ENTITY_ID = re.compile(r"[a-z_]+\.[a-z0-9_]+")

CHECK_OUT_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_ASSET): cv.string,
        probatio.Required(ATTR_CUSTODIAN): cv.string,
        probatio.Optional(ATTR_EXPECTED_RETURN): cv.datetime,
    }
)
CHECK_IN_SCHEMA = probatio.Schema({probatio.Required(ATTR_ASSET): cv.string})
RECORD_MAINTENANCE_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_ASSET): cv.string,
        probatio.Optional(ATTR_PLAN): cv.string,
        probatio.Optional(ATTR_DATE): cv.datetime,
        probatio.Optional(ATTR_ODOMETER): probatio.All(
            probatio.Coerce(float), probatio.Range(min=0)
        ),
        probatio.Optional(ATTR_ENGINE_HOURS): probatio.All(
            probatio.Coerce(float), probatio.Range(min=0)
        ),
        probatio.Optional(ATTR_COST): probatio.All(probatio.Coerce(float), probatio.Range(min=0)),
        probatio.Optional(ATTR_NOTE): probatio.All(cv.string, probatio.Length(max=1000)),
    }
)


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _runtime(hass: HomeAssistant) -> AssetRegisterRuntime:
    entry: AssetRegisterConfigEntry | None = hass.config_entries.async_entry_for_domain_unique_id(
        DOMAIN, ASSET_REGISTER_UNIQUE_ID
    )
    if entry is None or entry.state is not ConfigEntryState.LOADED:
        raise _invalid("no_asset_register")
    return entry.runtime_data


def resolve_asset(hass: HomeAssistant, text: str) -> tuple[AssetRegisterRuntime, Asset]:
    """The asset ``text`` names: its tag, its device ID or one of its entities.

    Raises:
        ServiceValidationError: ``unknown_asset`` naming ``text``, or no register loaded.
    """
    runtime = _runtime(hass)
    if (asset := runtime.asset_by_tag(text)) is not None:
        return runtime, asset
    device_id: str | None = text
    if (entity := er.async_get(hass).async_get(text)) is not None:
        device_id = entity.device_id
    device = dr.async_get(hass).async_get(device_id) if device_id else None
    if device is not None and (asset := runtime.asset_of_device(device.identifiers)) is not None:
        return runtime, asset
    raise _invalid("unknown_asset", asset=text[:100])


def _custodian(hass: HomeAssistant, text: str) -> tuple[str, str | None]:
    """(name, person entity or ``None``) of a custodian given as a person or a name.

    Raises:
        ServiceValidationError: ``unknown_custodian``: a person (or other entity ID) that does
            not exist, or an empty name.
    """
    text = text.strip()
    if _ENTITY_ID.fullmatch(text):
        state = hass.states.get(text)
        if state is None or state.domain != "person":
            raise _invalid("unknown_custodian", custodian=text[:100])
        return str(state.attributes.get("friendly_name", state.name)), text
    if not text:
        raise _invalid("unknown_custodian", custodian=text)
    return text[:MAX_CUSTODIAN], None


def _when(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_util.get_default_time_zone())
    return dt_util.as_utc(value)


async def _async_check_out(call: ServiceCall) -> None:
    runtime, asset = resolve_asset(call.hass, call.data[ATTR_ASSET])
    custodian, person = _custodian(call.hass, call.data[ATTR_CUSTODIAN])
    expected = _when(call.data.get(ATTR_EXPECTED_RETURN))
    if expected is not None and expected <= dt_util.utcnow():
        raise _invalid(
            "expected_return_past", expected_return=dt_util.as_local(expected).isoformat()
        )
    if asset.custody.status not in ALLOWED["check_out"]:
        if asset.custodian is not None:
            raise _invalid("already_checked_out", asset=asset.name, custodian=asset.custodian)
        raise _invalid(f"cannot_check_out_{asset.custody.status.value}", asset=asset.name)
    try:
        runtime.async_check_out(asset, custodian, person, expected, via="action")
    except CustodyError as err:  # what the checks above let through: the library's word
        raise _invalid("custody_refused", asset=asset.name, error=str(err)) from err


async def _async_check_in(call: ServiceCall) -> None:
    runtime, asset = resolve_asset(call.hass, call.data[ATTR_ASSET])
    if asset.custody.status not in ALLOWED["check_in"]:
        raise _invalid("not_checked_out", asset=asset.name)
    runtime.async_check_in(asset, via="action")


async def _async_record_maintenance(call: ServiceCall) -> None:
    runtime, asset = resolve_asset(call.hass, call.data[ATTR_ASSET])
    plan = asset.plan
    wanted = call.data.get(ATTR_PLAN)
    if plan is None or (wanted is not None and wanted.strip().casefold() != plan.name.casefold()):
        raise _invalid(
            "unknown_plan",
            asset=asset.name,
            plan=str(wanted or "")[:100],
            plans=plan.name if plan is not None else "-",
        )
    now = dt_util.utcnow()
    done_at = _when(call.data.get(ATTR_DATE)) or now
    if done_at > now:
        raise _invalid("maintenance_in_future", date=dt_util.as_local(done_at).isoformat())
    current = asset.readings()
    odometer = call.data.get(ATTR_ODOMETER)
    hours = call.data.get(ATTR_ENGINE_HOURS)
    readings = Readings(
        engine_hours_s=hours * 3600 if hours is not None else current.engine_hours_s,
        odometer_m=odometer * 1000 if odometer is not None else current.odometer_m,
    )
    try:
        runtime.async_record_maintenance(
            asset,
            done_at,
            readings,
            cost=call.data.get(ATTR_COST),
            note=call.data.get(ATTR_NOTE, ""),
            via="action",
        )
    except AssetsError as err:
        if err.code == "before_baseline":
            baseline = dt_util.parse_datetime(err.placeholders.get("baseline", ""))
            raise _invalid(
                "maintenance_before_plan",
                asset=asset.name,
                date=dt_util.as_local(done_at).isoformat(),
                baseline=dt_util.as_local(baseline).isoformat() if baseline else "",
            ) from err
        raise _invalid("maintenance_refused", asset=asset.name, error=str(err)) from err


SET_STATUS_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_ASSET): cv.string,
        probatio.Required(ATTR_STATUS): probatio.In(SETTABLE_STATUSES),
    }
)


async def _async_set_status(call: ServiceCall) -> None:
    runtime, asset = resolve_asset(call.hass, call.data[ATTR_ASSET])
    status = AssetStatus(call.data[ATTR_STATUS])
    if asset.custody.status is status:
        return
    try:
        runtime.async_set_status(asset, status)
    except CustodyError as err:
        raise _invalid(
            "status_change_refused",
            asset=asset.name,
            status=asset.custody.status.value,
            new_status=status.value,
        ) from err


RECOMPUTE_TRIPS_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_ASSET): cv.string,
        probatio.Required(ATTR_START): cv.datetime,
        probatio.Required(ATTR_END): cv.datetime,
    }
)


def _date_range(call: ServiceCall) -> tuple[datetime, datetime]:
    """The call's start and end, UTC.

    Raises:
        ServiceValidationError: ``bad_date_range``: the end is not after the start, or is
            more than :data:`MAX_REPORT_RANGE` later.
    """
    start = _when(call.data[ATTR_START])
    end = _when(call.data[ATTR_END])
    assert start is not None
    assert end is not None
    if end <= start or end - start > MAX_REPORT_RANGE:
        raise _invalid(
            "bad_date_range",
            start=dt_util.as_local(start).isoformat(),
            end=dt_util.as_local(end).isoformat(),
        )
    return start, end


async def _async_recompute_trips(call: ServiceCall) -> ServiceResponse:
    """Detect an asset's trips again from the recorder's history of its source.

    The raw fixes are the recorder's: the trips that started in the range are replaced by
    what the library finds in them (the usage counters are not recounted).
    """
    start, end = _date_range(call)
    runtime, asset = resolve_asset(call.hass, call.data[ATTR_ASSET])
    source = asset.config.source
    if source is None or asset.detector is None:
        raise _invalid("asset_without_source", asset=asset.name)
    if "recorder" not in call.hass.config.components:
        raise _invalid("no_history", asset=asset.name)
    positions = await runtime.async_history(source, start, end)
    fixes = []
    for position in positions:
        try:
            fixes.append(
                TrackFix.at(
                    position.time, position.latitude, position.longitude,
                    speed_kmh=position.speed_kmh, accuracy_m=position.accuracy_m or None,
                )
            )  # fmt: skip
        except AssetsError:
            continue
    report = detect_trips(fixes, asset.detector.config)
    trips = [trip for trip in report.trips if start <= trip.start < end]
    removed = runtime.async_replace_trips(asset, start, end, trips)
    found: list[JsonValueType] = [
        TripRow(asset.name, asset.config.tag, trip, asset.trip_purpose(trip)).as_dict()
        for trip in trips
    ]
    return {"fixes": report.fixes, "removed": removed, "trips": found}


TAG_TRIP_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_ASSET): cv.string,
        probatio.Required(ATTR_TRIP_START): cv.datetime,
        probatio.Required(ATTR_PURPOSE): probatio.In(PURPOSES),
    }
)


async def _async_tag_trip(call: ServiceCall) -> None:
    """Mark a trip (named by its start, as the report gives it) business or private."""
    runtime, asset = resolve_asset(call.hass, call.data[ATTR_ASSET])
    start = _when(call.data[ATTR_TRIP_START])
    trip = next((t for t in asset.trips if t.start == start), None)
    if trip is None:
        raise _invalid(
            "unknown_trip",
            asset=asset.name,
            start=dt_util.as_local(start).isoformat() if start else "",
        )
    runtime.async_set_trip_purpose(asset, trip, call.data[ATTR_PURPOSE])


TRIP_REPORT_SCHEMA = probatio.Schema(
    {
        probatio.Optional(ATTR_ASSETS): probatio.All(
            cv.ensure_list, [cv.string], probatio.Length(max=MAX_REPORT_ASSETS)
        ),
        probatio.Required(ATTR_START): cv.datetime,
        probatio.Required(ATTR_END): cv.datetime,
        probatio.Optional(ATTR_TAG_PREFIX): cv.string,
        probatio.Optional(ATTR_PURPOSE): probatio.In(PURPOSES),
        probatio.Optional(ATTR_FORMATS): probatio.All(
            cv.ensure_list, [probatio.In(["csv", "gpx"])]
        ),
        probatio.Optional(ATTR_FILE_NAME): cv.string,
    }
)


async def _async_trip_report(call: ServiceCall) -> ServiceResponse:
    """The trips of some assets (or all) that started in a date range; files on request."""
    hass = call.hass
    start, end = _date_range(call)
    runtime = _runtime(hass)
    if ATTR_ASSETS in call.data:
        chosen = [resolve_asset(hass, text)[1] for text in call.data[ATTR_ASSETS]]
    else:
        chosen = list(runtime.assets.values())
    prefix = call.data.get(ATTR_TAG_PREFIX, "").strip().casefold()
    purpose = call.data.get(ATTR_PURPOSE)
    rows = [
        TripRow(asset.name, asset.config.tag, trip, asset.trip_purpose(trip))
        for asset in dict.fromkeys(chosen)
        if asset.config.tag.casefold().startswith(prefix)
        for trip in asset.trips
        if start <= trip.start < end and purpose in (None, asset.trip_purpose(trip))
    ]
    rows.sort(key=lambda row: (row.trip.start, row.tag))
    files: list[JsonValueType] = []
    formats = call.data.get(ATTR_FORMATS) or []
    if formats:
        name = call.data.get(ATTR_FILE_NAME) or f"trips_{dt_util.now():%Y%m%d_%H%M%S}"
        try:
            name = check_file_name(name)
        except AssetsError as err:
            raise _invalid("bad_file_name", name=str(name)[:64]) from err
        directory = Path(hass.config.path(REPORT_DIRECTORY))
        texts = {
            "csv": trips_csv(rows) if "csv" in formats else None,
            "gpx": trips_gpx(rows) if "gpx" in formats else None,
        }
        written = await hass.async_add_executor_job(_write_reports, directory, name, texts)
        files = [str(path) for path in written]
    trips: list[JsonValueType] = [row.as_dict() for row in rows]
    return {"trips": trips, "files": files}


def _write_reports(directory: Path, name: str, texts: dict[str, str | None]) -> list[Path]:
    """Write each report as ``directory/name.<format>`` (the name is checked: no path)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, text in texts.items():
        if text is None:
            continue
        path = directory / f"{name}.{suffix}"
        if path.resolve().parent != directory.resolve():  # pragma: no cover - name is checked
            raise ValueError(path)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


@callback
def async_setup_asset_services(hass: HomeAssistant) -> None:
    """Register the asset register's actions."""
    hass.services.async_register(DOMAIN, SERVICE_CHECK_OUT, _async_check_out, CHECK_OUT_SCHEMA)
    hass.services.async_register(DOMAIN, SERVICE_CHECK_IN, _async_check_in, CHECK_IN_SCHEMA)
    hass.services.async_register(
        DOMAIN,
        SERVICE_RECORD_MAINTENANCE,
        _async_record_maintenance,
        RECORD_MAINTENANCE_SCHEMA,
    )
    hass.services.async_register(DOMAIN, SERVICE_SET_STATUS, _async_set_status, SET_STATUS_SCHEMA)
    hass.services.async_register(DOMAIN, SERVICE_TAG_TRIP, _async_tag_trip, TAG_TRIP_SCHEMA)
    hass.services.async_register(
        DOMAIN,
        SERVICE_RECOMPUTE_TRIPS,
        _async_recompute_trips,
        RECOMPUTE_TRIPS_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_TRIP_REPORT,
        _async_trip_report,
        TRIP_REPORT_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )


__all__ = ["async_setup_asset_services", "resolve_asset"]
