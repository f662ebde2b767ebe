"""Constants for ThingBridge."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "thingbridge"
LOGGER = logging.getLogger(__package__)

CONF_KIND: Final = "kind"
CONF_VERIFY_SSL: Final = "verify_ssl"
CONF_ALLOW_OTHER_HOSTS: Final = "allow_other_hosts"

# The kinds of config entry ThingBridge creates; the config flow's first step is a menu of them.
KIND_WOT_THING: Final = "wot_thing"
KIND_WOT_DIRECTORY: Final = "wot_directory"
ENTRY_KINDS: Final = (KIND_WOT_THING, KIND_WOT_DIRECTORY)

# Properties that cannot be observed are polled this often.
SCAN_INTERVAL: Final = timedelta(seconds=30)
# A directory is asked for its list of Things this often.
DIRECTORY_SCAN_INTERVAL: Final = timedelta(minutes=5)

# Fired on the bus for every event a Thing emits (device triggers listen to it).
EVENT_THING_EVENT: Final = f"{DOMAIN}_event"
# Dispatcher signal for event entities: format with the Thing's key and the event name.
SIGNAL_THING_EVENT: Final = f"{DOMAIN}_event_{{}}_{{}}"
