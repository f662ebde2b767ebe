"""What the real third-party peer tests share: a recorder of a watcher's deliveries."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

WAIT_TIMEOUT = 20.0


class Recorder:
    """Collects what a watcher delivers and lets the test wait for a given delivery."""

    def __init__(self) -> None:
        self.properties: list[tuple[str, Any]] = []
        self.events: list[tuple[str, Any]] = []
        self.connection: list[bool] = []
        self._changed = asyncio.Event()

    def on_property(self, name: str, value: Any) -> None:
        self.properties.append((name, value))
        self._changed.set()

    def on_event(self, name: str, data: Any) -> None:
        self.events.append((name, data))
        self._changed.set()

    def on_connection(self, connected: bool) -> None:
        self.connection.append(connected)
        self._changed.set()

    async def wait(self, predicate: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(WAIT_TIMEOUT):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            pytest.fail(
                f"{what} never reached the callbacks; got properties={self.properties!r} "
                f"events={self.events!r} connection={self.connection!r}"
            )
