"""Unknown GPS trackers offered under Discovered, within bounds.

Anyone who can reach a port can make up device IDs, so discovery is bounded: at most
:data:`DISCOVERY_FLOWS_PER_MINUTE` new discovery flows a minute and
:data:`DISCOVERY_PENDING_MAX` tracker flows waiting at once. Unknown trackers beyond that are
not offered; they are counted (up to :data:`HELD_BACK_MEMORY` distinct ones) in one repair
issue, ``unknown_trackers``, updated at most every :data:`ISSUE_UPDATE_INTERVAL` seconds and
removed once all of them were offered or the entry unloads. The gateway asks again about a
device that keeps sending (every ten minutes), so a tracker held back is offered once there
is room. Device IDs reach the log only quoted (``%r``).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
import logging
import time

from homeassistant.config_entries import SOURCE_INTEGRATION_DISCOVERY
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import discovery_flow, issue_registry as ir
from homeassistant.helpers.event import async_call_later

from ...const import (
    CONF_DEVICE_ID,
    CONF_PROTOCOL,
    DOMAIN,
    KIND_TRACKER_GATEWAY,
    TRACKER_PROTOCOL_LABELS,
    device_identifier,
)

_LOGGER = logging.getLogger(__name__)

DISCOVERY_FLOWS_PER_MINUTE = 10
DISCOVERY_PENDING_MAX = 25
HELD_BACK_MEMORY = 10_000
ISSUE_UPDATE_INTERVAL = 10.0
UNKNOWN_TRACKERS_ISSUE = "unknown_trackers"
_ISSUE_EXAMPLES = 5


def tracker_key(protocol: str, device_id: str) -> str:
    """A tracker's identity: its protocol and device ID (the subentry's unique ID)."""
    return f"{protocol}:{device_id}"


def discovery_unique_id(protocol: str, device_id: str) -> str:
    """The unique ID of the discovery flow that offers a tracker: its device identifier's text."""
    return device_identifier(KIND_TRACKER_GATEWAY, tracker_key(protocol, device_id))[1]


class TrackerDiscovery:
    """The gateway's offers of unknown trackers, and the repair issue counting those held back."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Offer nothing yet."""
        self.hass = hass
        self._offered_at: deque[float] = deque()  # when the flows of the last minute began
        self.held_back: dict[tuple[str, str], None] = {}
        """Unknown trackers not offered (too many at once), oldest first."""
        self._issue_shown = 0  # the count the repair issue shows (0: no issue)
        self._issue_at = -ISSUE_UPDATE_INTERVAL
        self._issue_timer: CALLBACK_TYPE | None = None
        self._stopped = False

    def on_unknown_device(self, protocol: str, device_id: str) -> None:
        """A tracker Home Assistant does not know sent data: offer to add it.

        Within the discovery bounds (module docstring); beyond them the tracker is counted
        in the ``unknown_trackers`` repair issue instead.
        """
        key = (protocol, device_id)
        unique_id = discovery_unique_id(protocol, device_id)
        flows = [
            flow["context"].get("unique_id")
            for flow in self.hass.config_entries.flow.async_progress_by_handler(
                DOMAIN, include_uninitialized=True
            )
            if str(flow["context"].get("unique_id", "")).startswith("tracker:")
        ]
        if unique_id in flows:
            return  # offered already
        now = time.monotonic()
        while self._offered_at and now - self._offered_at[0] >= 60.0:
            self._offered_at.popleft()
        if len(self._offered_at) >= DISCOVERY_FLOWS_PER_MINUTE or len(flows) >= (
            DISCOVERY_PENDING_MAX
        ):
            if key not in self.held_back and len(self.held_back) < HELD_BACK_MEMORY:
                self.held_back[key] = None
                self._update_issue()
            return
        self._offered_at.append(now)
        self._forget_held_back(key)
        _LOGGER.info(
            "Unknown %s tracker %r sent data; it is offered under Discovered",
            TRACKER_PROTOCOL_LABELS.get(protocol, protocol),
            device_id,
        )
        discovery_flow.async_create_flow(
            self.hass,
            DOMAIN,
            context={"source": SOURCE_INTEGRATION_DISCOVERY},
            data={CONF_PROTOCOL: protocol, CONF_DEVICE_ID: device_id},
        )

    @callback
    def async_added(self, protocol: str, device_id: str) -> None:
        """A tracker was just added: it is no longer "discovered", nor held back."""
        flows = self.hass.config_entries.flow.async_progress_by_handler(
            DOMAIN, match_context={"unique_id": discovery_unique_id(protocol, device_id)}
        )
        for flow in flows:
            self.hass.config_entries.flow.async_abort(flow["flow_id"])
        self._forget_held_back((protocol, device_id))

    @callback
    def async_stop(self) -> None:
        """The entry unloads: remove the repair issue, and write it no more."""
        self._stopped = True
        if self._issue_timer is not None:
            self._issue_timer()
            self._issue_timer = None
        ir.async_delete_issue(self.hass, DOMAIN, UNKNOWN_TRACKERS_ISSUE)

    def _forget_held_back(self, key: tuple[str, str]) -> None:
        """The tracker was offered or added after all: it no longer counts as held back."""
        if key in self.held_back:
            del self.held_back[key]
            self._update_issue()

    def _update_issue(self) -> None:
        """Show the held-back count in the repair issue: now, or once the interval is over."""
        if self._issue_timer is not None or self._stopped:
            return  # an update is due anyway
        wait = self._issue_at + ISSUE_UPDATE_INTERVAL - time.monotonic()
        if wait > 0 and self.held_back:
            self._issue_timer = async_call_later(self.hass, wait, self._async_issue_due)
            return
        self._write_issue()

    @callback
    def _async_issue_due(self, _now: datetime) -> None:
        self._issue_timer = None
        self._write_issue()

    def _write_issue(self) -> None:
        count = len(self.held_back)
        if count == self._issue_shown:
            return
        self._issue_at = time.monotonic()
        if not count:
            ir.async_delete_issue(self.hass, DOMAIN, UNKNOWN_TRACKERS_ISSUE)
            self._issue_shown = 0
            return
        if not self._issue_shown:
            _LOGGER.warning(
                "More unknown GPS trackers than %d new offers a minute or %d waiting: the "
                "others are counted in a repair issue instead of being offered",
                DISCOVERY_FLOWS_PER_MINUTE,
                DISCOVERY_PENDING_MAX,
            )
        self._issue_shown = count
        examples = list(self.held_back)[-_ISSUE_EXAMPLES:]
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            UNKNOWN_TRACKERS_ISSUE,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=UNKNOWN_TRACKERS_ISSUE,
            translation_placeholders={
                "count": str(count),
                "per_minute": str(DISCOVERY_FLOWS_PER_MINUTE),
                "pending": str(DISCOVERY_PENDING_MAX),
                "examples": ", ".join(
                    f"`{d}` ({TRACKER_PROTOCOL_LABELS.get(p, p)})" for p, d in examples
                ),
            },
        )
