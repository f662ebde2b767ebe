"""The kinds of ThingBridge config entry and what they have in common.

For now: how a kind's devices are named in the device registry, built in this one place.
"""

from __future__ import annotations

from typing import Final

from .const import DOMAIN, KIND_TRACKER_GATEWAY, KIND_WOT_DIRECTORY, KIND_WOT_THING

# Stored in the device registry of every installation: never change one.
_IDENTIFIER_PREFIXES: Final = {
    KIND_WOT_THING: "",
    KIND_WOT_DIRECTORY: "",
    KIND_TRACKER_GATEWAY: "tracker:",
}


def device_identifier(kind: str, key: str) -> tuple[str, str]:
    """The device registry identifier of a device that an entry of ``kind`` adds.

    Args:
        kind: The entry's kind (``CONF_KIND``).
        key: The device's key within its kind: a Thing's key (its Thing Description's
            ``id``, or the one made from its URL), a tracker's ``protocol:device ID``.

    Returns:
        ``(DOMAIN, key)`` for Things, ``(DOMAIN, "tracker:" + key)`` for GPS trackers.
    """
    return (DOMAIN, _IDENTIFIER_PREFIXES[kind] + key)
