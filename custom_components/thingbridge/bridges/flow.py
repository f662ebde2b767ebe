"""What the config flows of every pillar share."""

from __future__ import annotations

from collections.abc import Mapping


class FlowError(Exception):
    """A problem to show in the form (or abort with): its translation key and placeholders."""

    def __init__(self, key: str, placeholders: Mapping[str, str] | None = None) -> None:
        """Keep the key (and what its text names)."""
        super().__init__(key)
        self.key = key
        self.placeholders = dict(placeholders or {})
