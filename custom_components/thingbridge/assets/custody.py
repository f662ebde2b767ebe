"""Custody of an asset (who has it, until when) and asset tags.

**Statuses and transitions** (:class:`Custody` is immutable; each action returns the next
state, or raises a :class:`~.errors.CustodyError` with ``code="not_allowed"`` naming the
action and the status it is not allowed in):

=================  ============================================================
status             allowed actions
=================  ============================================================
available          check_out, start_maintenance, retire
checked_out        check_in, retire (retiring a lost asset ends its check-out)
in_maintenance     end_maintenance, retire
retired            reinstate (back to available)
=================  ============================================================

A check-out names a custodian (a Home Assistant person ID or a plain name: the glue
decides) and optionally an expected return; :meth:`Custody.overdue` tells whether that has
passed. A check-in returns the :class:`CustodyRecord` of the check-out it closes, for the
asset's history.

**Tags** are sequential with a prefix: :func:`next_tag` gives ``VAN-0007`` after
``VAN-0006`` (the highest number in use plus one, numbers of other prefixes ignored);
:func:`check_tag` validates a tag given by hand and refuses one already in use (tags
compare without regard to case or surrounding spaces).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
import re
from typing import Any

from .errors import CustodyError

MAX_CUSTODIAN = 100
MAX_TAG = 32
TAG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
PREFIX_PATTERN = re.compile(r"[A-Za-z0-9._/-]{0,16}")


class AssetStatus(StrEnum):
    """An asset's custody status."""

    AVAILABLE = "available"
    CHECKED_OUT = "checked_out"
    IN_MAINTENANCE = "in_maintenance"
    RETIRED = "retired"


ALLOWED: dict[str, frozenset[AssetStatus]] = {
    "check_out": frozenset({AssetStatus.AVAILABLE}),
    "check_in": frozenset({AssetStatus.CHECKED_OUT}),
    "start_maintenance": frozenset({AssetStatus.AVAILABLE}),
    "end_maintenance": frozenset({AssetStatus.IN_MAINTENANCE}),
    "retire": frozenset(
        {AssetStatus.AVAILABLE, AssetStatus.CHECKED_OUT, AssetStatus.IN_MAINTENANCE}
    ),
    "reinstate": frozenset({AssetStatus.RETIRED}),
}
"""The statuses each action is allowed in."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckOut:
    """An open check-out."""

    custodian: str
    since: datetime
    expected_return: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CustodyRecord:
    """A check-out that ended (by a check-in, or by retiring the asset)."""

    custodian: str
    checked_out: datetime
    checked_in: datetime
    expected_return: datetime | None
    late: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Custody:
    """The custody state of one asset."""

    status: AssetStatus = AssetStatus.AVAILABLE
    checkout: CheckOut | None = None

    def _allow(self, action: str) -> None:
        if self.status not in ALLOWED[action]:
            raise CustodyError(
                f"cannot {action.replace('_', ' ')} an asset that is {self.status.value.replace('_', ' ')}",
                code="not_allowed",
                action=action,
                status=self.status.value,
            )

    def check_out(
        self, custodian: str, now: datetime, expected_return: datetime | None = None
    ) -> Custody:
        """Hand the asset to ``custodian`` at ``now``, back by ``expected_return``."""
        self._allow("check_out")
        name = custodian.strip() if isinstance(custodian, str) else ""
        if not name or len(name) > MAX_CUSTODIAN:
            raise CustodyError(
                f"the custodian must be a name of 1 to {MAX_CUSTODIAN} characters",
                code="bad_custodian",
            )
        _aware(now, "now")
        if expected_return is not None and _aware(expected_return, "expected_return") <= now:
            raise CustodyError(
                "the expected return is not after the check-out",
                code="return_before_checkout",
                expected_return=expected_return.isoformat(),
            )
        checkout = CheckOut(custodian=name, since=now, expected_return=expected_return)
        return Custody(status=AssetStatus.CHECKED_OUT, checkout=checkout)

    def check_in(self, now: datetime) -> tuple[Custody, CustodyRecord]:
        """Take the asset back at ``now``; return the new state and the closed check-out."""
        self._allow("check_in")
        return Custody(), self._record(now)

    def _record(self, now: datetime) -> CustodyRecord:
        checkout = self.checkout
        assert checkout is not None
        _aware(now, "now")
        return CustodyRecord(
            custodian=checkout.custodian,
            checked_out=checkout.since,
            checked_in=max(now, checkout.since),
            expected_return=checkout.expected_return,
            late=self.overdue(now),
        )

    def start_maintenance(self) -> Custody:
        """Send the asset to maintenance."""
        self._allow("start_maintenance")
        return Custody(status=AssetStatus.IN_MAINTENANCE)

    def end_maintenance(self) -> Custody:
        """The asset is back from maintenance."""
        self._allow("end_maintenance")
        return Custody()

    def retire(self, now: datetime) -> tuple[Custody, CustodyRecord | None]:
        """Retire the asset; a check-out it was in ends (its record is returned)."""
        self._allow("retire")
        record = self._record(now) if self.checkout is not None else None
        return Custody(status=AssetStatus.RETIRED), record

    def reinstate(self) -> Custody:
        """Bring a retired asset back."""
        self._allow("reinstate")
        return Custody()

    def overdue(self, now: datetime) -> bool:
        """Whether the asset is checked out past its expected return."""
        return self.overdue_by(now) is not None

    def overdue_by(self, now: datetime) -> timedelta | None:
        """How long past its expected return the asset is (``None``: it is not)."""
        checkout = self.checkout
        if checkout is None or checkout.expected_return is None:
            return None
        late = _aware(now, "now") - checkout.expected_return
        return late if late > timedelta(0) else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        checkout = self.checkout
        return {
            "status": self.status.value,
            "checkout": None
            if checkout is None
            else {
                "custodian": checkout.custodian,
                "since": checkout.since.isoformat(),
                "expected_return": None
                if checkout.expected_return is None
                else checkout.expected_return.isoformat(),
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Custody:
        """The state back from :meth:`to_dict`; :class:`CustodyError` when it is not one."""
        try:
            status = AssetStatus(data["status"])
            raw = data["checkout"]
            checkout = None
            if raw is not None:
                expected = raw["expected_return"]
                checkout = CheckOut(
                    custodian=str(raw["custodian"]),
                    since=_aware(datetime.fromisoformat(raw["since"]), "since"),
                    expected_return=None
                    if expected is None
                    else _aware(datetime.fromisoformat(expected), "expected_return"),
                )
        except (KeyError, TypeError, ValueError) as err:  # fmt: skip
            raise CustodyError(f"not a custody state: {err!r}", code="bad_state") from None
        if (status is AssetStatus.CHECKED_OUT) != (checkout is not None):
            raise CustodyError(
                "not a custody state: a check-out goes with the checked_out status",
                code="bad_state",
            )
        return cls(status=status, checkout=checkout)


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise CustodyError(
            f"{name} must be a date and time with a time zone", code="bad_date", field=name
        )
    return value


def _normal(tag: str) -> str:
    return tag.strip().casefold()


def check_prefix(prefix: str) -> str:
    """Validate a tag prefix (up to 16 letters, digits, ``. _ / -``)."""
    if not isinstance(prefix, str) or not PREFIX_PATTERN.fullmatch(prefix):
        raise CustodyError(
            "a tag prefix has at most 16 letters, digits or . _ / -",
            code="bad_prefix",
            prefix=str(prefix)[:40],
        )
    return prefix


def next_tag(prefix: str, existing: Iterable[str], width: int = 4) -> str:
    """The next sequential tag (``VAN-0007``).

    It is ``prefix`` and the highest number in use after it plus one, zero-padded to
    ``width`` digits.
    """
    check_prefix(prefix)
    if not 1 <= width <= 10:
        raise CustodyError("the tag width must be 1 to 10 digits", code="bad_width")
    start = _normal(prefix)
    highest = 0
    for tag in existing:
        text = _normal(tag)
        if text.startswith(start) and text[len(start) :].isdigit() and text[len(start) :].isascii():
            highest = max(highest, int(text[len(start) :]))
    return f"{prefix}{highest + 1:0{width}d}"


def check_tag(tag: str, existing: Iterable[str]) -> str:
    """A hand-given tag, stripped; :class:`CustodyError` when it is not valid or in use."""
    text = tag.strip() if isinstance(tag, str) else ""
    if not text or len(text) > MAX_TAG or not TAG_PATTERN.fullmatch(text):
        raise CustodyError(
            f"an asset tag has 1 to {MAX_TAG} letters, digits or . _ / - and starts with a "
            "letter or digit",
            code="bad_tag",
            tag=str(tag)[:40],
        )
    wanted = _normal(text)
    if any(_normal(other) == wanted for other in existing):
        raise CustodyError(
            f"the asset tag {text} is already in use", code="duplicate_tag", tag=text
        )
    return text
