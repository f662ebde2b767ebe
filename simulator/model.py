"""The simulator's device model: Things with properties, actions and events, and their observers.

A :class:`SimThing` holds its state and knows nothing about HTTP: the server in
:mod:`simulator.wot` (W3C TD dialect) and :mod:`simulator.webthings` (Mozilla/WebThings dialect)
render it. Every change goes through :meth:`SimThing.publish`, which numbers it, keeps it in a
short history (for SSE ``Last-Event-ID`` replay) and hands it to every matching
:class:`Subscription` (SSE streams, long-poll requests, WebThings WebSockets).

Values are checked against the affordance's data schema with :func:`check_value`, a small
validator for the subset of JSON Schema that WoT data schemas use (TD 1.1 section 5.3.2: type,
enum, const, minimum/maximum, exclusive bounds, multipleOf, string length and pattern, array
items, object properties/required). It is hand-written because no JSON Schema package is in the
environment and the subset is small; unknown keywords (``unit``, ``@type``, ``title``...) are
annotations and are ignored, as JSON Schema itself does.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
import contextlib
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
import math
import random
import re
from typing import Any, Literal
import uuid

TD_CONTEXT = "https://www.w3.org/2022/wot/td/v1.1"
WEBTHINGS_CONTEXT = "https://webthings.io/schemas"
DISCOVERY_CONTEXT = "https://www.w3.org/2022/wot/discovery"
PROFILE_BASIC = "https://www.w3.org/2022/wot/profile/http-basic/v1"
PROFILE_SSE = "https://www.w3.org/2022/wot/profile/http-sse/v1"

HISTORY_SIZE = 256
QUEUE_SIZE = 256
ACTION_RECORDS_KEPT = 100
EVENT_LOG_SIZE = 100

type Kind = Literal["property", "event", "action"]
type Observe = Literal["sse", "longpoll"]
type Dialect = Literal["td", "webthings"]


class SimulatorError(Exception):
    """Base class of the simulator's own errors."""


class NotFoundError(SimulatorError, LookupError):
    """A Thing, property, action, event or action request that does not exist."""


class InvalidValueError(SimulatorError, ValueError):
    """A value that does not match its data schema; the message names what is wrong."""


def now_iso() -> str:
    """The current UTC time as an RFC 3339 timestamp with milliseconds (``...T11:43:19.135Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# data schema validation


def _type_ok(expected: str, value: Any) -> bool:
    match expected:
        case "boolean":
            return isinstance(value, bool)
        case "integer":
            return (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, float) and value.is_integer()
            )
        case "number":
            return (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            )
        case "string":
            return isinstance(value, str)
        case "object":
            return isinstance(value, dict)
        case "array":
            return isinstance(value, list)
        case "null":
            return value is None
    return True


def _check_number(schema: Mapping[str, Any], value: float, where: str) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        raise InvalidValueError(f"{where}: {value!r} is below the minimum {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        raise InvalidValueError(f"{where}: {value!r} is above the maximum {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        raise InvalidValueError(f"{where}: {value!r} must be above {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        raise InvalidValueError(f"{where}: {value!r} must be below {schema['exclusiveMaximum']}")
    step = schema.get("multipleOf")
    if step:
        ratio = value / step
        if not math.isclose(ratio, round(ratio), abs_tol=1e-9):
            raise InvalidValueError(f"{where}: {value!r} is not a multiple of {step}")


def _check_string(schema: Mapping[str, Any], value: str, where: str) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        raise InvalidValueError(f"{where}: shorter than {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise InvalidValueError(f"{where}: longer than {schema['maxLength']} characters")
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        raise InvalidValueError(f"{where}: {value!r} does not match {schema['pattern']!r}")


def check_value(schema: Mapping[str, Any], value: Any, where: str = "value") -> Any:
    """Check ``value`` against a WoT data schema; return it normalised.

    Integral floats given for an ``integer`` schema come back as ``int`` (JSON Schema treats
    ``40.0`` as an integer). Raises :class:`InvalidValueError` naming ``where`` and the rule.
    """
    expected = schema.get("type")
    if isinstance(expected, str):
        if not _type_ok(expected, value):
            raise InvalidValueError(f"{where}: expected {expected}, got {value!r}")
        if expected == "integer" and isinstance(value, float):
            value = int(value)
    if "enum" in schema and value not in schema["enum"]:
        raise InvalidValueError(f"{where}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        raise InvalidValueError(f"{where}: must be {schema['const']!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        _check_number(schema, value, where)
    elif isinstance(value, str):
        _check_string(schema, value, where)
    elif isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                raise InvalidValueError(f"{where}: missing required member {name!r}")
        members = schema.get("properties") or {}
        value = {
            key: check_value(members[key], item, f"{where}.{key}") if key in members else item
            for key, item in value.items()
        }
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value = [
            check_value(schema["items"], item, f"{where}[{i}]") for i, item in enumerate(value)
        ]
    return value


# --------------------------------------------------------------------------------------------
# notifications and observers


@dataclass(frozen=True, slots=True)
class Notification:
    """One change pushed to observers: a property value, an event, or an action's new status.

    ``seq`` is unique per Thing and increases; it is the SSE ``id``.
    """

    seq: int
    kind: Kind
    name: str
    data: Any
    time: str


class Subscription:
    """An observer's queue of notifications, filtered by kind and affordance name.

    The queue is bounded: an observer that falls :data:`QUEUE_SIZE` notifications behind is
    closed (an SSE consumer then reconnects with ``Last-Event-ID`` and gets the missed ones from
    the history).
    """

    def __init__(self, kinds: Iterable[Kind], names: Iterable[str] | None = None) -> None:
        """Receive notifications of ``kinds``, for ``names`` only unless it is ``None``."""
        self.kinds = frozenset(kinds)
        self.names = frozenset(names) if names is not None else None
        self.queue: asyncio.Queue[Notification | None] = asyncio.Queue(QUEUE_SIZE)
        self.closed = False
        self.overflowed = False

    def matches(self, note: Notification) -> bool:
        """Whether this observer wants ``note``."""
        return note.kind in self.kinds and (self.names is None or note.name in self.names)

    def offer(self, note: Notification) -> None:
        """Queue ``note`` if wanted; close the subscription when the observer is too slow."""
        if self.closed or not self.matches(note):
            return
        try:
            self.queue.put_nowait(note)
        except asyncio.QueueFull:
            self.overflowed = True
            self.close()

    def close(self) -> None:
        """End the subscription: the reader gets ``None`` next (pending items are dropped)."""
        if self.closed:
            return
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)

    async def next(self, within: float | None = None) -> Notification | None:
        """The next notification; ``None`` once closed. ``TimeoutError`` after ``within`` s."""
        async with asyncio.timeout(within):
            return await self.queue.get()


# --------------------------------------------------------------------------------------------
# affordances


type WriteHook = Callable[["SimThing", Any], None]


class SimProperty:
    """A property: its TD affordance members (a data schema plus annotations) and its value.

    Assigning :attr:`value` publishes the new value to observers when it differs from the old
    one, so tests can change state either through :meth:`WotSimulator.set_property` (always
    pushes) or by assignment.
    """

    def __init__(
        self, schema: dict[str, Any], value: Any, *, on_write: WriteHook | None = None
    ) -> None:
        """Hold ``value``; ``on_write`` replaces plain assignment for consumer writes."""
        self.schema = schema
        self._value = value
        self.on_write = on_write
        self.name = ""
        self.thing: SimThing | None = None

    @property
    def value(self) -> Any:
        """The current value."""
        return self._value

    @value.setter
    def value(self, new: Any) -> None:
        changed = new != self._value or type(new) is not type(self._value)
        self._value = new
        if changed and self.thing is not None:
            self.thing.property_changed(self.name)

    @property
    def read_only(self) -> bool:
        """True when consumers may not write it."""
        return bool(self.schema.get("readOnly"))

    @property
    def write_only(self) -> bool:
        """True when consumers may not read it."""
        return bool(self.schema.get("writeOnly"))

    def check(self, value: Any) -> Any:
        """``value`` validated against the schema (see :func:`check_value`)."""
        return check_value(self.schema, value, self.name or "value")


@dataclass(slots=True)
class ActionRecord:
    """One invocation of an action (an ActionStatus resource while it is kept)."""

    thing: str
    name: str
    input: Any
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "pending"
    time_requested: str = field(default_factory=now_iso)
    time_ended: str | None = None
    output: Any = None
    error: dict[str, Any] | None = None
    cancel_requested: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        """True once completed or failed."""
        return self.status in ("completed", "failed")


type ActionHandler = Callable[["SimThing", Any, ActionRecord], Awaitable[Any]]


@dataclass(slots=True)
class SimAction:
    """An action: TD members (title, ``@type``, input, output...) and what it does.

    ``synchronous`` actions answer the invoking request with their output (200) or 204;
    the others answer 201 with an ActionStatus and run in the background.
    """

    schema: dict[str, Any]
    handler: ActionHandler
    synchronous: bool = True


@dataclass(slots=True)
class SimEvent:
    """An event: TD members (title, ``@type``, ``data`` schema...)."""

    schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """HTTP Basic credentials a Thing requires (TD scheme ``basic``)."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class BearerAuth:
    """A bearer token a Thing requires (TD scheme ``bearer``)."""

    token: str = field(repr=False)


type Security = BasicAuth | BearerAuth | None
type TickFunction = Callable[["SimThing", float], None]
type ChangeHook = Callable[["SimThing", str, Any], None]


@dataclass(eq=False)
class SimThing:
    """A simulated Thing: a title, affordances, and a tick that changes its state over time.

    ``observe`` picks how the TD dialect offers push (``sse`` or ``longpoll``); ``dialect``
    picks where the Thing is served (``td``: ``/things/<slug>``, ``webthings``:
    ``/webthings/<slug>``). ``tick(thing, seconds)`` runs every tick interval;
    ``on_change(thing, name, value)`` runs after every property change.
    """

    slug: str
    title: str
    semantic_types: list[str]
    properties: dict[str, SimProperty]
    tick: TickFunction | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    actions: dict[str, SimAction] = field(default_factory=dict)
    events: dict[str, SimEvent] = field(default_factory=dict)
    observe: Observe = "sse"
    security: Security = None
    dialect: Dialect = "td"
    context: list[Any] = field(default_factory=lambda: [WEBTHINGS_CONTEXT])
    on_change: ChangeHook | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False)
    state: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        """Attach the properties to this Thing so assignments publish."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._seq = 0
        self._history: deque[Notification] = deque(maxlen=HISTORY_SIZE)
        self._subscriptions: set[Subscription] = set()
        self.action_records: dict[str, ActionRecord] = {}
        self.event_log: deque[Notification] = deque(maxlen=EVENT_LOG_SIZE)
        for name, prop in self.properties.items():
            prop.name = name
            prop.thing = self

    @property
    def id(self) -> str:
        """The Thing's ``id`` (a URN)."""
        return f"urn:thingbridge:simulator:{self.slug}"

    # ---- lookups

    def prop(self, name: str) -> SimProperty:
        """The property ``name``; :class:`NotFoundError` if there is none."""
        try:
            return self.properties[name]
        except KeyError:
            raise NotFoundError(f"Thing {self.slug!r} has no property {name!r}") from None

    def action(self, name: str) -> SimAction:
        """The action ``name``; :class:`NotFoundError` if there is none."""
        try:
            return self.actions[name]
        except KeyError:
            raise NotFoundError(f"Thing {self.slug!r} has no action {name!r}") from None

    def event(self, name: str) -> SimEvent:
        """The event ``name``; :class:`NotFoundError` if there is none."""
        try:
            return self.events[name]
        except KeyError:
            raise NotFoundError(f"Thing {self.slug!r} has no event {name!r}") from None

    def readable_values(self) -> dict[str, Any]:
        """Every readable property's value, keyed by name."""
        return {n: p.value for n, p in self.properties.items() if not p.write_only}

    # ---- publishing

    def publish(self, kind: Kind, name: str, data: Any) -> Notification:
        """Number ``data``, keep it in the history and hand it to every matching observer."""
        self._seq += 1
        note = Notification(self._seq, kind, name, data, now_iso())
        self._history.append(note)
        if kind == "event":
            self.event_log.append(note)
        for sub in list(self._subscriptions):
            sub.offer(note)
        return note

    def property_changed(self, name: str) -> None:
        """Push the current value of ``name`` and run the change hook."""
        value = self.properties[name].value
        self.publish("property", name, value)
        if self.on_change is not None:
            self.on_change(self, name, value)

    def set(self, name: str, value: Any) -> None:
        """Set a property and push it, even when the value is unchanged."""
        prop = self.prop(name)
        if prop.value == value and type(prop.value) is type(value):
            self.property_changed(name)
        else:
            prop.value = value

    def emit(self, name: str, data: Any = None) -> Notification:
        """Fire the event ``name`` with ``data``."""
        self.event(name)
        return self.publish("event", name, data)

    def subscribe(self, sub: Subscription) -> Subscription:
        """Start delivering notifications to ``sub``."""
        self._subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to ``sub`` (idempotent)."""
        self._subscriptions.discard(sub)

    @property
    def subscriber_count(self) -> int:
        """How many observers are attached right now."""
        return len(self._subscriptions)

    @property
    def last_seq(self) -> int:
        """The number of the latest notification (0 before the first)."""
        return self._seq

    def history_after(self, seq: int) -> list[Notification]:
        """Kept notifications numbered above ``seq``, oldest first."""
        return [note for note in self._history if note.seq > seq]

    # ---- actions

    def start_action(self, name: str, value: Any) -> ActionRecord:
        """Validate the input and run the action in the background; return its record."""
        action = self.action(name)
        if "input" in action.schema:
            value = check_value(action.schema["input"], value, "input")
        elif value is not None:
            raise InvalidValueError(f"action {name!r} takes no input")
        record = ActionRecord(self.slug, name, value)
        self.action_records[record.id] = record
        self._prune_records()
        record.task = asyncio.create_task(self._run_action(action, record))
        self.publish("action", name, copy.copy(record))
        return record

    async def invoke_now(self, name: str, value: Any) -> Any:
        """Validate the input, run the action to its end and return its output."""
        action = self.action(name)
        if "input" in action.schema:
            value = check_value(action.schema["input"], value, "input")
        elif value is not None:
            raise InvalidValueError(f"action {name!r} takes no input")
        return await action.handler(self, value, ActionRecord(self.slug, name, value))

    async def _run_action(self, action: SimAction, record: ActionRecord) -> None:
        await asyncio.sleep(0)  # answer the request (status "pending") before starting
        record.status = "running"
        self.publish("action", record.name, copy.copy(record))
        try:
            record.output = await action.handler(self, record.input, record)
        except asyncio.CancelledError:
            if record.cancel_requested:
                self.action_records.pop(record.id, None)
                record.status = "failed"
                record.error = _problem_detail("Cancelled", "cancelled by a cancelaction request")
                record.time_ended = now_iso()
                self.publish("action", record.name, copy.copy(record))
                return
            record.status = "failed"
            record.error = _problem_detail("Interrupted", "interrupted by another command")
        except SimulatorError as err:
            record.status = "failed"
            record.error = _problem_detail("Action failed", str(err))
        else:
            record.status = "completed"
        record.time_ended = now_iso()
        self.publish("action", record.name, copy.copy(record))

    def cancel_action(self, record: ActionRecord) -> None:
        """Cancel a pending or running action (its record is then deleted)."""
        record.cancel_requested = True
        if record.task is not None:
            record.task.cancel()
        self.action_records.pop(record.id, None)

    def _prune_records(self) -> None:
        finished = [r for r in self.action_records.values() if r.finished]
        for record in finished[: max(0, len(self.action_records) - ACTION_RECORDS_KEPT)]:
            del self.action_records[record.id]

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` in the background (e.g. a movement a write started); kept for cleanup."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def cancel_all_actions(self) -> None:
        """Stop every running action and background task (used when the simulator stops)."""
        tasks = [r.task for r in self.action_records.values() if r.task and not r.task.done()]
        tasks += [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _problem_detail(title: str, detail: str) -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "detail": detail}
