"""Constants for ThingBridge."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "thingbridge"
LOGGER = logging.getLogger(__package__)

CONF_KIND: Final = "kind"

# The kinds of config entry ThingBridge creates; the config flow's first step is a menu of them.
KIND_WOT_THING: Final = "wot_thing"
ENTRY_KINDS: Final = (KIND_WOT_THING,)

SCAN_INTERVAL: Final = timedelta(seconds=30)
