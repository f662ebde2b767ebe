"""ThingBridge: Web of Things devices, legacy M2M machines and tracked assets in Home Assistant.

The hooks Home Assistant calls live in :mod:`.integration`. They are imported here at once when
Home Assistant is what imports this package (it has loaded ``homeassistant.core`` by then), and
on first use otherwise: the command-line tools of the libraries below it
(``python -m custom_components.thingbridge.wot``, ``.m2m``, ``.assets``) never import Home
Assistant, and so start in a fraction of a second instead of several.
"""

from __future__ import annotations

import sys
from typing import Any

HOOKS = (
    "CONFIG_SCHEMA",
    "async_setup",
    "async_setup_entry",
    "async_unload_entry",
    "async_remove_entry",
    "async_remove_config_entry_device",
)

if "homeassistant.core" in sys.modules:
    from .integration import *  # noqa: F403 - the hooks (integration.__all__ == HOOKS)

else:

    def __getattr__(name: str) -> Any:
        """Home Assistant's hooks, imported on first use outside Home Assistant."""
        if name in HOOKS:
            from . import integration  # noqa: PLC0415 - on first use, by design

            return getattr(integration, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
