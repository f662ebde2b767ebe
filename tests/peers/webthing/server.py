"""A real WebThings server for tests/lib/wot/test_webthing_peer.py: webthing-python (``webthing``).

Runs two of the library's own servers on one tornado IOLoop, both on 127.0.0.1 and on ports
the kernel picked (bound before the servers are built, so no port race), or on the ports given
as arguments (``server.py SINGLE MULTIPLE``, to come back where a stopped peer was):

- a single-thing server for the Lamp (``WebThingServer(SingleThing(...))``, Thing at ``/``);
- a multiple-things server for a Lamp and a Sensor (``MultipleThings``, the listing at ``/``
  and the Things at ``/0`` and ``/1``).

The Host check that guards webthing servers against DNS rebinding stays on. mDNS is not
started (``WebThingServer.start`` would register with zeroconf and pick the default route's
address): the sockets are handed to the library's HTTP server directly.

Protocol with the test, one JSON object per line:

- stdout: ``{"ready": true, "single": PORT, "multiple": PORT}`` once listening; then
  ``{"request": {"server", "method", "path", "status"}}`` per HTTP request,
  ``{"subscriber": {"server", "thing", "added"}}`` when a WebSocket opens or closes,
  ``{"event_subscriber": {"server", "thing", "event"}}`` on an ``addEventSubscription``,
  ``{"action": {"server", "thing", "name", "status", "input"}}`` on each action status change,
  and ``{"reply": ...}`` per stdin command.
- stdin: ``{"cmd": "set", "server", "thing", "name", "value"}`` changes a value on the device
  side (``Value.notify_of_external_update``, as a sensor driver would);
  ``{"cmd": "event", "server", "thing", "name", "data"}`` raises an event;
  ``{"cmd": "get", "server", "thing", "name"}`` answers the current value;
  ``{"cmd": "drop", "server", "thing"}`` closes the Thing's WebSockets from the server side;
  ``{"cmd": "ping"}`` answers once everything before it has been logged.
  End of input stops the servers.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any
import uuid

import tornado.ioloop
import tornado.netutil
from webthing import (
    Action,
    Event,
    MultipleThings,
    Property,
    SingleThing,
    Thing,
    Value,
    WebThingServer,
)


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class FadeAction(Action):
    """Fade the lamp to a brightness over a duration (ms), as webthing's own example does."""

    def __init__(self, thing: Thing, input_: dict[str, Any]) -> None:
        super().__init__(uuid.uuid4().hex, thing, "fade", input_=input_)

    def perform_action(self) -> None:
        # The library runs this on its IOLoop; keep the blocking part short.
        time.sleep(min(self.input["duration"], 500) / 1000)
        self.thing.set_property("brightness", self.input["brightness"])
        self.thing.add_event(Event(self.thing, "faded", self.input["brightness"]))


class IdentifyAction(Action):
    """An action without input: switches the lamp on so that it can be found."""

    def __init__(self, thing: Thing, input_: Any) -> None:
        super().__init__(uuid.uuid4().hex, thing, "identify", input_=input_)

    def perform_action(self) -> None:
        self.thing.set_property("on", True)


def make_lamp(thing_id: str, title: str) -> Thing:
    thing = Thing(thing_id, title, ["OnOffSwitch", "Light"], "A dimmable lamp")
    thing.add_property(
        Property(
            thing,
            "on",
            Value(True),
            metadata={
                "@type": "OnOffProperty",
                "title": "On/Off",
                "type": "boolean",
                "description": "Whether the lamp is turned on",
            },
        )
    )
    thing.add_property(
        Property(
            thing,
            "brightness",
            Value(50),
            metadata={
                "@type": "BrightnessProperty",
                "title": "Brightness",
                "type": "integer",
                "description": "The level of light from 0-100",
                "minimum": 0,
                "maximum": 100,
                "unit": "percent",
            },
        )
    )
    thing.add_property(
        Property(
            thing,
            "temperature",
            Value(21.5),
            metadata={
                "@type": "TemperatureProperty",
                "title": "Temperature",
                "type": "number",
                "unit": "degree celsius",
                "readOnly": True,
            },
        )
    )
    thing.add_available_action(
        "fade",
        {
            "@type": "FadeAction",
            "title": "Fade",
            "description": "Fade the lamp to a given level",
            "input": {
                "type": "object",
                "required": ["brightness", "duration"],
                "properties": {
                    "brightness": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": 100,
                        "unit": "percent",
                    },
                    "duration": {"type": "integer", "minimum": 1, "unit": "milliseconds"},
                },
            },
        },
        FadeAction,
    )
    thing.add_available_action(
        "identify", {"title": "Identify", "description": "Switch on to be found"}, IdentifyAction
    )
    thing.add_available_event(
        "overheated",
        {
            "@type": "OverheatedEvent",
            "description": "The lamp has exceeded its safe operating temperature",
            "type": "number",
            "unit": "degree celsius",
        },
    )
    thing.add_available_event(
        "faded",
        {"description": "A fade finished", "type": "integer", "unit": "percent"},
    )
    return thing


def make_sensor() -> Thing:
    thing = Thing(
        "urn:thingbridge:test:webthing-sensor",
        "Humidity Sensor",
        ["MultiLevelSensor"],
        "A web connected humidity sensor",
    )
    thing.add_property(
        Property(
            thing,
            "level",
            Value(40.0),
            metadata={
                "@type": "LevelProperty",
                "title": "Humidity",
                "type": "number",
                "minimum": 0,
                "maximum": 100,
                "unit": "percent",
                "readOnly": True,
            },
        )
    )
    return thing


def instrument(server_name: str, server: WebThingServer, things: list[Thing]) -> None:
    """Report requests, WebSocket subscribers and action states on stdout."""

    def log_request(handler: Any) -> None:
        request = handler.request
        emit(
            {
                "request": {
                    "server": server_name,
                    "method": request.method,
                    "path": request.path,
                    "status": handler.get_status(),
                    "host": request.headers.get("Host"),
                }
            }
        )

    server.app.settings["log_function"] = log_request
    for index, thing in enumerate(things):
        where = {"server": server_name, "thing": index}

        def add_subscriber(subscriber: Any, thing: Thing = thing, where: Any = where) -> None:
            Thing.add_subscriber(thing, subscriber)
            emit({"subscriber": {**where, "added": True}})

        def remove_subscriber(subscriber: Any, thing: Thing = thing, where: Any = where) -> None:
            Thing.remove_subscriber(thing, subscriber)
            emit({"subscriber": {**where, "added": False}})

        def add_event_subscriber(
            name: str, subscriber: Any, thing: Thing = thing, where: Any = where
        ) -> None:
            Thing.add_event_subscriber(thing, name, subscriber)
            emit({"event_subscriber": {**where, "event": name}})

        def action_notify(action: Action, thing: Thing = thing, where: Any = where) -> None:
            Thing.action_notify(thing, action)
            emit(
                {
                    "action": {
                        **where,
                        "name": action.name,
                        "status": action.status,
                        "input": action.input,
                        "href": action.get_href(),
                    }
                }
            )

        thing.add_subscriber = add_subscriber
        thing.remove_subscriber = remove_subscriber
        thing.add_event_subscriber = add_event_subscriber
        thing.action_notify = action_notify


def main() -> None:
    single_lamp = make_lamp("urn:thingbridge:test:webthing-lamp", "Lamp")
    multi_things = [make_lamp("urn:thingbridge:test:webthing-lamp-2", "Second Lamp"), make_sensor()]

    wanted = [int(arg) for arg in sys.argv[1:3]] + [0, 0]
    single_sockets = tornado.netutil.bind_sockets(wanted[0], "127.0.0.1")
    multi_sockets = tornado.netutil.bind_sockets(wanted[1], "127.0.0.1")
    single_port = single_sockets[0].getsockname()[1]
    multi_port = multi_sockets[0].getsockname()[1]

    single = WebThingServer(SingleThing(single_lamp), port=single_port)
    multiple = WebThingServer(MultipleThings(multi_things, "ThingBridge test"), port=multi_port)
    instrument("single", single, [single_lamp])
    instrument("multiple", multiple, multi_things)

    servers = {"single": (single, [single_lamp]), "multiple": (multiple, multi_things)}
    loop = tornado.ioloop.IOLoop.current()

    def command(line: str) -> None:
        try:
            message = json.loads(line)
            _, things = servers[message.get("server", "single")]
            thing = things[int(message.get("thing", 0))]
            if message["cmd"] == "set":
                thing.find_property(message["name"]).value.notify_of_external_update(
                    message["value"]
                )
                emit({"reply": {"cmd": "set", "value": thing.get_property(message["name"])}})
            elif message["cmd"] == "event":
                thing.add_event(Event(thing, message["name"], message.get("data")))
                emit({"reply": {"cmd": "event"}})
            elif message["cmd"] == "drop":
                # The device closes its WebSockets (a restart, a network blip).
                # Forget them at once, as the device would: tornado calls on_close (which
                # unsubscribes them) only later, and a change notified meanwhile would be
                # written to a closed socket (WebSocketClosedError).
                for subscriber in list(thing.subscribers):
                    subscriber.close()
                    thing.remove_subscriber(subscriber)
                emit({"reply": {"cmd": "drop"}})
            elif message["cmd"] == "ping":
                # Everything logged before this reply was written before it: a barrier.
                emit({"reply": {"cmd": "ping"}})
            elif message["cmd"] == "get":
                emit({"reply": {"cmd": "get", "value": thing.get_property(message["name"])}})
            else:
                emit({"reply": {"error": f"unknown command {message['cmd']!r}"}})
        except Exception as err:  # noqa: BLE001 - reported to the test, which fails on it
            emit({"reply": {"error": repr(err)}})

    def read_stdin() -> None:
        for line in sys.stdin:
            if line.strip():
                loop.add_callback(command, line)
        loop.add_callback(loop.stop)

    single.server.add_sockets(single_sockets)
    multiple.server.add_sockets(multi_sockets)
    threading.Thread(target=read_stdin, name="stdin", daemon=True).start()
    emit({"ready": True, "single": single_port, "multiple": multi_port})
    loop.start()
    single.server.stop()
    multiple.server.stop()


if __name__ == "__main__":
    main()
