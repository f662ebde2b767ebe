"""Maintenance plans: every N engine hours, N km or N days, whichever comes first.

The log of completions is kept in the plan.

A plan counts from its **baseline**: the date and readings (engine hours, odometer) when
it was created or last completed. :meth:`MaintenancePlan.due` takes the current readings
and the time (a scheduler in the glue calls it, so a parked trailer's date-based service
comes due even when no position arrives, unlike Traccar's) and tells, per measure, what was
used, what remains and when it is expected to come due:

- days: the baseline date plus the interval, exactly;
- engine hours and distance: at the average rate since the baseline (used / days elapsed),
  when at least :data:`MIN_RATE_DAYS` have passed and the asset was used; otherwise no date.

The plan is ``"due"`` once any measure's remaining amount is zero or less, ``"soon"`` once
any is within ``soon_fraction`` (10 %) of its interval, else ``"ok"``; ``next`` names the
measure that comes first (the most overdue one, or the earliest expected date, or the one
with the largest share of its interval used). :meth:`MaintenancePlan.complete` appends a
:class:`Completion` (date, readings, cost, note) and moves the baseline there.

Readings are in the units of the tracker model (engine hours in seconds, odometer in
metres); intervals and the due information in the units people use (hours, km, days).
A reading below the baseline (a replaced tracker or a reset counter) makes that measure
unknown until the next completion, rather than wrongly overdue or never due.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
import math
from typing import Any, Literal

from .errors import MaintenanceError

Measure = Literal["engine_hours", "distance", "days"]
DueStatus = Literal["ok", "soon", "due"]
MIN_RATE_DAYS = 1.0
"""Days since the baseline before a usage rate is trusted for a due-date estimate."""
MAX_NOTE = 1000
MAX_NAME = 100
_UNIT = {"engine_hours": 3600.0, "distance": 1000.0}  # reading units per interval unit


@dataclass(frozen=True, slots=True, kw_only=True)
class Readings:
    """An asset's counters now: engine hours in seconds, odometer in metres."""

    engine_hours_s: float | None = None
    odometer_m: float | None = None

    def __post_init__(self) -> None:
        """Refuse negative or non-finite readings."""
        for name in ("engine_hours_s", "odometer_m"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise MaintenanceError(
                    f"reading {name} must be a non-negative number", code="bad_reading", field=name
                )


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """A maintenance done: when, the readings then, what it cost, a note."""

    done_at: datetime
    readings: Readings
    cost: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "done_at": self.done_at.isoformat(),
            "engine_hours_s": self.readings.engine_hours_s,
            "odometer_m": self.readings.odometer_m,
            "cost": self.cost,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Completion:
        """A completion back from :meth:`to_dict`."""
        return cls(
            done_at=_aware(datetime.fromisoformat(data["done_at"]), "done_at"),
            readings=Readings(engine_hours_s=data["engine_hours_s"], odometer_m=data["odometer_m"]),
            cost=_cost(data["cost"]),
            note=_note(data["note"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasureDue:
    """Where one measure of a plan stands.

    Attributes:
        measure: ``"engine_hours"`` (hours), ``"distance"`` (km) or ``"days"``.
        interval: The plan's interval in that unit.
        used: Used since the baseline (``None``: no reading, or a reading below it).
        remaining: ``interval - used`` (negative: overdue by that much).
        due_at: When it is expected to come due (``None``: no estimate).
    """

    measure: Measure
    interval: float
    used: float | None
    remaining: float | None
    due_at: datetime | None

    @property
    def fraction_used(self) -> float | None:
        """``used / interval``."""
        return None if self.used is None else self.used / self.interval


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenanceDue:
    """Where a plan stands: its status, each measure, and the one that comes first."""

    status: DueStatus
    measures: tuple[MeasureDue, ...]
    next: MeasureDue | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MaintenancePlan:
    """A maintenance plan of one asset (immutable: changes return a new plan).

    Build one with :meth:`create`; intervals in hours, km and days.
    """

    name: str
    every_hours: float | None
    every_km: float | None
    every_days: float | None
    baseline_at: datetime
    baseline: Readings
    log: tuple[Completion, ...] = ()
    soon_fraction: float = 0.1

    def __post_init__(self) -> None:
        """Validate the name and intervals."""
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > MAX_NAME:
            raise MaintenanceError(
                f"a plan needs a name of 1 to {MAX_NAME} characters", code="bad_name"
            )
        intervals = {"every_hours": self.every_hours, "every_km": self.every_km}
        intervals["every_days"] = self.every_days
        for name, value in intervals.items():
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise MaintenanceError(
                    f"{name} must be a positive number", code="bad_interval", field=name
                )
        if all(v is None for v in intervals.values()):
            raise MaintenanceError(
                "a plan needs at least one interval (hours, km or days)", code="no_interval"
            )
        if not 0 <= self.soon_fraction < 1:
            raise MaintenanceError(
                "soon_fraction must be in [0, 1)", code="bad_interval", field="soon_fraction"
            )
        _aware(self.baseline_at, "baseline_at")

    @classmethod
    def create(
        cls,
        name: str,
        *,
        start: datetime,
        readings: Readings,
        every_hours: float | None = None,
        every_km: float | None = None,
        every_days: float | None = None,
        soon_fraction: float = 0.1,
    ) -> MaintenancePlan:
        """A new plan counting from ``start`` and the ``readings`` then."""
        plan = cls(
            name=name,
            every_hours=every_hours,
            every_km=every_km,
            every_days=every_days,
            baseline_at=start,
            baseline=readings,
            soon_fraction=soon_fraction,
        )
        plan._require(readings)
        return plan

    def _require(self, readings: Readings) -> None:
        if self.every_hours is not None and readings.engine_hours_s is None:
            raise MaintenanceError(
                "the plan counts engine hours: an engine hours reading is needed",
                code="missing_reading",
                measure="engine_hours",
            )
        if self.every_km is not None and readings.odometer_m is None:
            raise MaintenanceError(
                "the plan counts distance: an odometer reading is needed",
                code="missing_reading",
                measure="distance",
            )

    def due(self, readings: Readings, now: datetime) -> MaintenanceDue:
        """Where the plan stands at ``now`` (aware) with the current ``readings``."""
        _aware(now, "now")
        elapsed_days = (now - self.baseline_at).total_seconds() / 86400
        measures: list[MeasureDue] = []
        for measure, interval, current, base in (
            (
                "engine_hours",
                self.every_hours,
                readings.engine_hours_s,
                self.baseline.engine_hours_s,
            ),
            ("distance", self.every_km, readings.odometer_m, self.baseline.odometer_m),
        ):
            if interval is None:
                continue
            used = None
            due_at = None
            if current is not None and base is not None and current >= base:
                used = (current - base) / _UNIT[measure]
                if elapsed_days >= MIN_RATE_DAYS and used > 0:
                    rate = used / elapsed_days
                    due_at = self.baseline_at + timedelta(days=interval / rate)
            measures.append(
                MeasureDue(
                    measure=measure,  # type: ignore[arg-type]
                    interval=interval,
                    used=used,
                    remaining=None if used is None else interval - used,
                    due_at=due_at,
                )
            )
        if self.every_days is not None:
            measures.append(
                MeasureDue(
                    measure="days",
                    interval=self.every_days,
                    used=elapsed_days,
                    remaining=self.every_days - elapsed_days,
                    due_at=self.baseline_at + timedelta(days=self.every_days),
                )
            )
        known = [m for m in measures if m.remaining is not None]
        status: DueStatus = "ok"
        if any(m.remaining is not None and m.remaining <= 0 for m in known):
            status = "due"
        elif any(
            m.remaining is not None and m.remaining <= self.soon_fraction * m.interval
            for m in known
        ):
            status = "soon"
        return MaintenanceDue(status=status, measures=tuple(measures), next=_first(known))

    def complete(
        self,
        done_at: datetime,
        readings: Readings,
        *,
        cost: float | None = None,
        note: str = "",
    ) -> MaintenancePlan:
        """The plan after a maintenance done at ``done_at``: logged, baseline moved there."""
        _aware(done_at, "done_at")
        if done_at < self.baseline_at:
            raise MaintenanceError(
                "the maintenance is dated before the plan's last baseline "
                f"({self.baseline_at.isoformat()})",
                code="before_baseline",
                baseline=self.baseline_at.isoformat(),
            )
        self._require(readings)
        entry = Completion(done_at=done_at, readings=readings, cost=_cost(cost), note=_note(note))
        return replace(self, baseline_at=done_at, baseline=readings, log=(*self.log, entry))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "name": self.name,
            "every_hours": self.every_hours,
            "every_km": self.every_km,
            "every_days": self.every_days,
            "baseline_at": self.baseline_at.isoformat(),
            "baseline": {
                "engine_hours_s": self.baseline.engine_hours_s,
                "odometer_m": self.baseline.odometer_m,
            },
            "log": [c.to_dict() for c in self.log],
            "soon_fraction": self.soon_fraction,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MaintenancePlan:
        """A plan back from :meth:`to_dict`; :class:`MaintenanceError` when it is not one."""
        try:
            return cls(
                name=data["name"],
                every_hours=data["every_hours"],
                every_km=data["every_km"],
                every_days=data["every_days"],
                baseline_at=_aware(datetime.fromisoformat(data["baseline_at"]), "baseline_at"),
                baseline=Readings(**data["baseline"]),
                log=tuple(Completion.from_dict(c) for c in data["log"]),
                soon_fraction=data["soon_fraction"],
            )
        except (KeyError, TypeError, ValueError) as err:  # fmt: skip
            if isinstance(err, MaintenanceError):
                raise
            raise MaintenanceError(
                f"not a maintenance plan: {err!r}", code="bad_state", field="plan"
            ) from None


def _first(measures: list[MeasureDue]) -> MeasureDue | None:
    overdue = [m for m in measures if m.remaining is not None and m.remaining <= 0]
    if overdue:
        return max(overdue, key=lambda m: (m.fraction_used or 0.0, m.measure))
    dated = [m for m in measures if m.due_at is not None]
    if dated:
        return min(dated, key=lambda m: (m.due_at, m.measure))
    return max(measures, key=lambda m: (m.fraction_used or 0.0, m.measure), default=None)


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise MaintenanceError(
            f"{name} must be a date and time with a time zone", code="bad_date", field=name
        )
    return value


def _cost(value: Any) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise MaintenanceError("the cost must be a non-negative number", code="bad_cost")
    return float(value)


def _note(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_NOTE:
        raise MaintenanceError(
            f"the note must be text of at most {MAX_NOTE} characters", code="bad_note"
        )
    return value
