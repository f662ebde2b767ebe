"""Custody transitions and asset tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from typing import Any

import pytest

from custom_components.thingbridge.assets.custody import (
    ALLOWED,
    AssetStatus,
    Custody,
    check_prefix,
    check_tag,
    next_tag,
)
from custom_components.thingbridge.assets.errors import CustodyError

NOW = datetime(2026, 4, 1, 9, tzinfo=UTC)


def in_status(status: AssetStatus) -> Custody:
    if status is AssetStatus.CHECKED_OUT:
        return Custody().check_out("person.alice", NOW, NOW + timedelta(days=1))
    if status is AssetStatus.IN_MAINTENANCE:
        return Custody().start_maintenance()
    if status is AssetStatus.RETIRED:
        return Custody().retire(NOW)[0]
    return Custody()


ACTIONS: dict[str, Any] = {
    "check_out": lambda c: c.check_out("Bob", NOW),
    "check_in": lambda c: c.check_in(NOW),
    "start_maintenance": lambda c: c.start_maintenance(),
    "end_maintenance": lambda c: c.end_maintenance(),
    "retire": lambda c: c.retire(NOW),
    "reinstate": lambda c: c.reinstate(),
}


@pytest.mark.parametrize("status", list(AssetStatus))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_transition_is_allowed_or_refused_by_name(status: AssetStatus, action: str) -> None:
    state = in_status(status)
    assert state.status is status
    if status in ALLOWED[action]:
        result = ACTIONS[action](state)
        new = result[0] if isinstance(result, tuple) else result
        assert isinstance(new, Custody)
        assert (new.checkout is not None) == (new.status is AssetStatus.CHECKED_OUT)
    else:
        with pytest.raises(CustodyError) as caught:
            ACTIONS[action](state)
        assert caught.value.code == "not_allowed"
        assert caught.value.placeholders == {"action": action, "status": status.value}
        assert status.value.replace("_", " ") in str(caught.value)


def test_check_out_overdue_and_check_in_record() -> None:
    back = NOW + timedelta(days=2)
    out = Custody().check_out("  Alice Smith ", NOW, back)
    assert out.checkout is not None
    assert out.checkout.custodian == "Alice Smith"
    assert not out.overdue(back)
    assert out.overdue(back + timedelta(seconds=1))
    assert out.overdue_by(back + timedelta(hours=3)) == timedelta(hours=3)
    state, record = out.check_in(back + timedelta(hours=3))
    assert state == Custody()
    assert record.late
    assert record.custodian == "Alice Smith"
    assert record.checked_out == NOW
    open_ended = Custody().check_out("Bob", NOW)
    assert not open_ended.overdue(NOW + timedelta(days=999))
    _, on_time = open_ended.check_in(NOW + timedelta(hours=1))
    assert not on_time.late
    retired, lost = out.retire(NOW + timedelta(days=30))
    assert retired.status is AssetStatus.RETIRED
    assert lost is not None
    assert lost.late


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda: Custody().check_out("", NOW), "bad_custodian"),
        (lambda: Custody().check_out("x" * 101, NOW), "bad_custodian"),
        (lambda: Custody().check_out("Bob", NOW, NOW), "return_before_checkout"),
        (lambda: Custody().check_out("Bob", datetime(2026, 1, 1)), "bad_date"),
        (
            lambda: Custody().check_out("Bob", NOW, datetime(2027, 1, 1)),
            "bad_date",
        ),
        (lambda: Custody.from_dict({"status": "lost", "checkout": None}), "bad_state"),
        (lambda: Custody.from_dict({"status": "checked_out", "checkout": None}), "bad_state"),
        (lambda: Custody.from_dict({"status": "available"}), "bad_state"),
    ],
)
def test_bad_custody_input_is_refused(call: Any, code: str) -> None:
    with pytest.raises(CustodyError) as caught:
        call()
    assert caught.value.code == code


def test_custody_round_trips_through_json() -> None:
    for state in (in_status(s) for s in AssetStatus):
        assert Custody.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    open_ended = Custody().check_out("Bob", NOW)
    assert Custody.from_dict(json.loads(json.dumps(open_ended.to_dict()))) == open_ended


def test_tags_are_sequential_per_prefix_and_unique() -> None:
    existing = ["VAN-0006", "van-0002", "TRL-0100", "VAN-x", "VAN-٣"]
    assert next_tag("VAN-", existing) == "VAN-0007"
    assert next_tag("TRL-", existing) == "TRL-0101"
    assert next_tag("GEN-", existing) == "GEN-0001"
    assert next_tag("", ["12", "A7"], width=3) == "013"
    assert check_tag(" DRILL-1 ", existing) == "DRILL-1"
    with pytest.raises(CustodyError) as caught:
        check_tag("van-0006", existing)
    assert caught.value.code == "duplicate_tag"
    assert caught.value.placeholders == {"tag": "van-0006"}
    for bad in ("", "-x", "a b", "x" * 33, "ta\tg", "tåg"):
        with pytest.raises(CustodyError) as caught:
            check_tag(bad, [])
        assert caught.value.code == "bad_tag"
    assert check_prefix("VAN-") == "VAN-"
    for bad_prefix in ("VAN ", "x" * 17):
        with pytest.raises(CustodyError):
            next_tag(bad_prefix, [])
    with pytest.raises(CustodyError):
        next_tag("VAN-", [], width=0)
