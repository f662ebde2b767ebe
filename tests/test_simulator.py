"""The simulator speaks the real protocols on real loopback sockets.

The client side is plain aiohttp written from the specs (W3C WoT TD 1.1, the HTTP binding, the
WoT Profile's HTTP Basic and SSE profiles, WoT Discovery, the WebThings API), not ThingBridge's
client, so these tests pin the wire formats the integration is built against.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator, AsyncIterator, Callable
import json
from pathlib import Path
import re
import shutil
import signal
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from custom_components.thingbridge.wot import parse_td
from custom_components.thingbridge.wot.mapping import map_thing
from simulator.model import InvalidValueError, NotFoundError, SimThing
from simulator.things import (
    DEFAULT_PASSWORD,
    DEFAULT_TOKEN,
    DEFAULT_USERNAME,
    PLUG_INITIAL_KWH,
    PLUG_STATE_FILE,
    THING_FACTORIES,
    build_things,
    make_blinds,
    make_lamp,
    make_plug,
    make_sensor,
)
from simulator.wot import WotSimulator

from .conftest import REPO, thing_url

TD_CONTEXT = "https://www.w3.org/2022/wot/td/v1.1"
BEARER = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
BASIC = {
    "Authorization": "Basic "
    + base64.b64encode(f"{DEFAULT_USERNAME}:{DEFAULT_PASSWORD}".encode()).decode()
}
GUARD = 10  # seconds: only a guard against hanging, never an assertion about speed


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    """A plain aiohttp client session."""
    async with aiohttp.ClientSession() as client:
        yield client


async def sse_messages(resp: aiohttp.ClientResponse) -> AsyncIterator[dict[str, str]]:
    """Parse a text/event-stream body into messages (dicts of field -> value; comments kept)."""
    fields: dict[str, str] = {}
    while True:
        raw = await resp.content.readline()
        if not raw:
            return
        line = raw.decode().rstrip("\n")
        if not line:
            if fields:
                yield fields
            fields = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def next_data(messages: AsyncIterator[dict[str, str]]) -> dict[str, str]:
    """The next message that carries data (skipping retry and keepalive)."""
    async with asyncio.timeout(GUARD):
        async for message in messages:
            if "data" in message:
                return message
    raise AssertionError("the stream ended")


async def wait_for(check: Callable[[], bool]) -> None:
    """Yield to the server until ``check()`` holds (bounded by a guard, not a timing claim)."""
    async with asyncio.timeout(GUARD):
        while not check():  # noqa: ASYNC110 - the server offers no event for these states
            await asyncio.sleep(0.005)


# --------------------------------------------------------------------------------------------
# the process and the CLI


async def test_simulator_process_serves_things(socket_enabled: None) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", "--wot-port", "0", "lamp",
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.fullmatch(r"Thing lamp: (http://127\.0\.0\.1:\d+/things/lamp)\n", line)
        assert match, line
        async with aiohttp.ClientSession() as session:
            async with session.get(match[1]) as resp:
                assert resp.headers["Content-Type"].startswith("application/td+json")
                td = await resp.json(content_type=None)
            assert td["title"] == "Simulated Lamp"
            assert set(td["properties"]) == {"on", "brightness", "color", "colorTemperature"}
            async with session.put(f"{match[1]}/properties/brightness", data=b"40") as resp:
                assert resp.status == 204
            async with session.get(f"{match[1]}/properties/brightness") as resp:
                assert await resp.json() == 40
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


def test_cli_help_documents_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "--help"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    for option in (
        "--host", "--port", "--tick", "--token", "--user", "--password", "--mdns", "--state-dir",
        "--no-state",
    ):  # fmt: skip
        assert option in result.stdout
    assert DEFAULT_TOKEN in result.stdout
    assert DEFAULT_USERNAME in result.stdout
    for slug in THING_FACTORIES:
        assert slug in result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "simulator", "kettle"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "unknown thing(s) kettle" in bad.stderr


# --------------------------------------------------------------------------------------------
# Thing Descriptions


EXPECTED_PLATFORMS: dict[str, list[tuple[str, str | None]]] = {
    # Their "toggle" action repeats the light's on/off: a service, not a button (issue 10).
    "lamp": [("light", None), ("event", None)],
    "sensor": [
        ("sensor", "temperature"),
        ("sensor", "humidity"),
        ("binary_sensor", "motion"),
        ("event", None),
    ],
    "thermostat": [("climate", None)],
    "plug": [
        ("switch", "outlet"),
        ("sensor", "power"),
        ("sensor", "energy"),
        ("sensor", "voltage"),
    ],
    "lock": [("lock", None), ("event", None)],
    "blinds": [("cover", None)],
    # OnOffSwitch + MultiLevelSwitch: one dimmable light (issue 10).
    "webthing-switch": [("light", None), ("event", None)],
}


@pytest.mark.parametrize("slug", list(THING_FACTORIES))
async def test_each_td_parses_and_maps_to_the_expected_platforms(
    wot_sim_all: WotSimulator, session: aiohttp.ClientSession, slug: str
) -> None:
    url = wot_sim_all.url_of(slug)
    async with session.get(url) as resp:
        assert resp.status == 200
        raw = await resp.json(content_type=None)
    td = parse_td(raw, url)
    assert td.skipped == ()
    specs = map_thing(td)
    assert [(s.platform, s.device_class) for s in specs] == EXPECTED_PLATFORMS[slug]
    assert td.id == f"urn:thingbridge:simulator:{slug}"
    if slug == "webthing-switch":
        assert td.dialect == "webthings"
        assert td.websocket is not None
        assert td.websocket.scheme == "ws"
        return
    assert td.dialect == "td"
    assert raw["@context"][:2] == [TD_CONTEXT, "https://webthings.io/schemas"] or slug == "blinds"
    assert raw["base"] == wot_sim_all.base_url
    # Every readable property has an observe form, with the Thing's subprotocol.
    subprotocol = "longpoll" if slug == "sensor" else "sse"
    for prop in td.properties.values():
        form = prop.observable_form
        assert form is not None
        assert form.subprotocol == subprotocol
        assert str(form.target()).endswith(f"/things/{slug}/properties/{prop.name}/observation")
    assert td.form_for("observeallproperties") is not None
    schemes = {"plug": ("bearer",), "lock": ("basic",)}.get(slug, ("nosec",))
    assert td.schemes == schemes


async def test_semantic_annotations_follow_the_webthings_schemas(
    wot_sim_all: WotSimulator, session: aiohttp.ClientSession
) -> None:
    types: dict[str, dict[str, Any]] = {}
    for slug in ("lamp", "thermostat", "plug", "lock", "sensor"):
        async with session.get(wot_sim_all.url_of(slug)) as resp:
            types[slug] = await resp.json(content_type=None)
    lamp = types["lamp"]
    assert lamp["@type"] == ["Light", "OnOffSwitch", "ColorControl"]
    assert {n: p["@type"] for n, p in lamp["properties"].items()} == {
        "on": "OnOffProperty",
        "brightness": "BrightnessProperty",
        "color": "ColorProperty",
        "colorTemperature": "ColorTemperatureProperty",
    }
    assert lamp["properties"]["colorTemperature"]["unit"] == "kelvin"
    assert lamp["actions"]["fade"]["synchronous"] is False
    assert lamp["profile"] == [
        "https://www.w3.org/2022/wot/profile/http-basic/v1",
        "https://www.w3.org/2022/wot/profile/http-sse/v1",
    ]
    thermostat = types["thermostat"]["properties"]
    assert thermostat["targetTemperature"]["multipleOf"] == 0.5
    assert thermostat["mode"]["enum"] == ["off", "heat", "cool", "auto"]
    assert types["lock"]["properties"]["locked"]["enum"] == [
        "locked",
        "unlocked",
        "jammed",
        "unknown",
    ]
    assert types["lock"]["securityDefinitions"] == {"basic_sc": {"scheme": "basic", "in": "header"}}
    assert "profile" not in types["plug"]  # bearer is outside the profiles' security set
    assert types["sensor"]["properties"]["motion"]["@type"] == "MotionProperty"


# --------------------------------------------------------------------------------------------
# plain reads and writes


async def test_simulator_rejects_bad_writes(
    wot_sim: WotSimulator, session: aiohttp.ClientSession
) -> None:
    base = f"{wot_sim.base_url}things"
    for path, body, status in [
        ("lamp/properties/brightness", b"101", 400),
        ("lamp/properties/brightness", b"4.5", 400),
        ("lamp/properties/color", b'"red"', 400),
        ("lamp/properties/on", b"not json", 400),
        ("lamp/properties/on", b"", 400),
        ("sensor/properties/temperature", b"20", 405),
        ("lamp/properties/colour", b"1", 404),
        ("kettle/properties/on", b"true", 404),
    ]:
        async with session.put(f"{base}/{path}", data=body) as resp:
            assert resp.status == status, path
            problem = await resp.json(content_type="application/problem+json")
            assert problem["status"] == status
            assert problem["detail"], path
    async with session.put(f"{base}/lamp/properties/brightness", data=b"40.0") as resp:
        assert resp.status == 204  # JSON Schema: 40.0 is an integer
    assert wot_sim.get_property("lamp", "brightness") == 40
    async with session.get(f"{base}/lamp/properties/colour") as resp:
        assert resp.status == 404
    async with session.get(f"{wot_sim.base_url}things") as resp:
        titles = [td["title"] for td in await resp.json()]
    assert titles == ["Simulated Lamp", "Simulated Temperature Sensor"]


async def test_read_all_and_write_many(
    wot_sim: WotSimulator, session: aiohttp.ClientSession
) -> None:
    url = f"{thing_url(wot_sim, 'lamp')}/properties"
    body = {"on": True, "color": "#00ff00"}
    async with session.put(url, json=body) as resp:
        assert resp.status == 204
    async with session.get(url) as resp:
        values = await resp.json()
    assert values == {"on": True, "brightness": 80, "color": "#00ff00", "colorTemperature": 2700}
    # One bad member rejects the whole write.
    async with session.put(url, json={"on": False, "brightness": -1}) as resp:
        assert resp.status == 400
    async with session.put(url, json={"on": False, "nope": 1}) as resp:
        assert resp.status == 400
    assert wot_sim.get_property("lamp", "on") is True


# --------------------------------------------------------------------------------------------
# SSE


async def test_sse_stream_delivers_changes_in_order(
    wot_sim: WotSimulator, session: aiohttp.ClientSession
) -> None:
    url = f"{thing_url(wot_sim, 'lamp')}/properties/brightness/observation"
    headers = {"Accept": "text/event-stream"}
    async with session.get(url, headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream"
        first = await resp.content.readline()
        assert first == b"retry: 3000\n"
        messages = sse_messages(resp)
        for value in (10, 20, 20, 30):  # set_property pushes even an unchanged value
            wot_sim.set_property("lamp", "brightness", value)
        wot_sim.set_property("lamp", "on", True)  # another property: not on this stream
        async with session.put(url.removesuffix("/observation"), data=b"55") as put:
            assert put.status == 204
        seen = [await next_data(messages) for _ in range(5)]
    assert [m["event"] for m in seen] == ["brightness"] * 5
    assert [json.loads(m["data"]) for m in seen] == [10, 20, 20, 30, 55]
    ids = [int(m["id"]) for m in seen]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5


async def test_sse_thing_level_post_accept_and_last_event_id(
    wot_sim: WotSimulator, session: aiohttp.ClientSession
) -> None:
    base = thing_url(wot_sim, "lamp")
    # POST (as the binding templates draw it) on the Thing-level observation form.
    async with session.post(f"{base}/observation") as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        messages = sse_messages(resp)
        wot_sim.set_property("lamp", "on", True)
        wot_sim.set_property("lamp", "color", "#123456")
        first, second = await next_data(messages), await next_data(messages)
    assert (first["event"], first["data"]) == ("on", "true")
    assert (second["event"], second["data"]) == ("color", '"#123456"')
    # The consumer was away while two changes happened; Last-Event-ID replays them.
    wot_sim.set_property("lamp", "brightness", 1)
    wot_sim.set_property("lamp", "colorTemperature", 3000)
    headers = {"Accept": "text/event-stream", "Last-Event-ID": second["id"]}
    async with session.get(f"{base}/properties", headers=headers) as resp:
        messages = sse_messages(resp)
        replayed = [await next_data(messages), await next_data(messages)]
        wot_sim.set_property("lamp", "on", False)
        live = await next_data(messages)
    assert [(m["event"], m["data"]) for m in replayed] == [
        ("brightness", "1"),
        ("colorTemperature", "3000"),
    ]
    assert (live["event"], live["data"]) == ("on", "false")
    # A plain GET of the same URL still reads all properties.
    async with session.get(f"{base}/properties", headers={"Accept": "application/json"}) as resp:
        assert (await resp.json())["on"] is False


async def test_sse_events_and_keepalive(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    sim = WotSimulator([make_lamp()], tick_interval=3600, keepalive=0.05)
    await sim.start()
    try:
        await _events_and_keepalive(sim, session)
    finally:
        await sim.stop()


async def _events_and_keepalive(sim: WotSimulator, session: aiohttp.ClientSession) -> None:
    base = sim.url_of("lamp")
    async with (
        session.get(f"{base}/events/overheated") as one,
        session.get(f"{base}/events") as every,
    ):
        one_messages, every_messages = sse_messages(one), sse_messages(every)
        sim.emit_event("lamp", "overheated", 71.5)
        sim.set_property("lamp", "on", True)  # a property change is not an event
        sim.emit_event("lamp", "overheated", 72)
        got_one = [await next_data(one_messages), await next_data(one_messages)]
        got_every = [await next_data(every_messages), await next_data(every_messages)]
        # The stream stays open and sends keepalive comments while nothing happens.
        async with asyncio.timeout(GUARD):
            async for message in one_messages:
                if message.get("comment") == "keepalive":
                    break
    for got in (got_one, got_every):
        assert [(m["event"], json.loads(m["data"])) for m in got] == [
            ("overheated", 71.5),
            ("overheated", 72),
        ]
    with pytest.raises(InvalidValueError, match="expected number"):
        sim.emit_event("lamp", "overheated", "hot")
    with pytest.raises(NotFoundError, match="no event 'exploded'"):
        sim.emit_event("lamp", "exploded")


# --------------------------------------------------------------------------------------------
# long-poll


async def test_long_poll_returns_on_change(
    wot_sim: WotSimulator, session: aiohttp.ClientSession
) -> None:
    sensor = wot_sim.things["sensor"]
    base = thing_url(wot_sim, "sensor")
    async with session.head(f"{base}/properties/temperature/observation") as resp:
        assert resp.status == 200  # node-wot's handshake is answered at once

    async def poll(path: str) -> tuple[int, Any]:
        async with session.get(f"{base}/{path}") as resp:
            return resp.status, await resp.json() if resp.status == 200 else None

    async def change_when_waiting(
        task: asyncio.Task[tuple[int, Any]], change: Callable[[], None]
    ) -> tuple[int, Any]:
        await wait_for(lambda: sensor.subscriber_count == 1)
        change()
        async with asyncio.timeout(GUARD):
            return await task

    task = asyncio.create_task(poll("properties/temperature/observation"))
    result = await change_when_waiting(
        task, lambda: wot_sim.set_property("sensor", "temperature", 24.5)
    )
    assert result == (200, 24.5)

    # Thing-level observation answers with the properties that changed.
    task = asyncio.create_task(poll("observation"))
    result = await change_when_waiting(
        task, lambda: wot_sim.set_property("sensor", "humidity", 50.0)
    )
    assert result == (200, {"humidity": 50.0})

    # Motion starting fires motionDetected; the event long-poll answers with its data.
    task = asyncio.create_task(poll("events/motionDetected"))
    result = await change_when_waiting(task, lambda: wot_sim.set_property("sensor", "motion", True))
    assert result[0] == 200
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", result[1])
    assert sensor.subscriber_count == 0


async def test_long_poll_timeout_answers(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    sim = WotSimulator([make_sensor()], tick_interval=3600, longpoll_timeout=0.05)
    await sim.start()
    try:
        base = thing_url(sim, "sensor")
        async with session.get(f"{base}/properties/temperature/observation") as resp:
            assert (resp.status, await resp.json()) == (200, 21.5)  # the current value
        async with session.get(f"{base}/events/motionDetected") as resp:
            assert resp.status == 204  # no event happened
    finally:
        await sim.stop()


# --------------------------------------------------------------------------------------------
# security


async def test_auth_rejects_bad_credentials(
    wot_sim_all: WotSimulator, session: aiohttp.ClientSession
) -> None:
    plug = f"{wot_sim_all.url_of('plug')}/properties/on"
    lock = f"{wot_sim_all.url_of('lock')}/properties/locked"
    wrong_basic = "Basic " + base64.b64encode(f"{DEFAULT_USERNAME}:nope".encode()).decode()
    for url, headers, challenge in [
        (plug, {}, 'Bearer realm="ThingBridge simulator"'),
        (
            plug,
            {"Authorization": "Bearer wrong"},
            'Bearer realm="ThingBridge simulator", error="invalid_token"',
        ),
        (plug, BASIC, 'Bearer realm="ThingBridge simulator"'),
        (lock, {}, 'Basic realm="ThingBridge simulator", charset="UTF-8"'),
        (
            lock,
            {"Authorization": wrong_basic},
            'Basic realm="ThingBridge simulator", charset="UTF-8"',
        ),
        (
            lock,
            {"Authorization": "Basic !!!"},
            'Basic realm="ThingBridge simulator", charset="UTF-8"',
        ),
        (lock, BEARER, 'Basic realm="ThingBridge simulator", charset="UTF-8"'),
    ]:
        async with session.get(url, headers=headers) as resp:
            assert resp.status == 401, (url, headers)
            assert resp.headers["WWW-Authenticate"] == challenge
            text = await resp.text()
            assert DEFAULT_TOKEN not in text
            assert DEFAULT_PASSWORD not in text
    for url, headers, value in [(plug, BEARER, True), (lock, BASIC, "locked")]:
        async with session.get(url, headers=headers) as resp:
            assert (resp.status, await resp.json()) == (200, value)
    # Streams and actions are protected too; the TDs are public.
    async with session.get(f"{wot_sim_all.url_of('plug')}/observation") as resp:
        assert resp.status == 401
    async with session.post(f"{wot_sim_all.url_of('lock')}/actions/unlock") as resp:
        assert resp.status == 401
    assert wot_sim_all.get_property("lock", "locked") == "locked"
    async with session.get(wot_sim_all.url_of("lock")) as resp:
        assert resp.status == 200


async def test_protected_tds_need_credentials(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    sim = WotSimulator(build_things(["lamp", "plug"], token="t0ken"), protect_tds=True)
    await sim.start()
    try:
        async with session.get(sim.url_of("plug")) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer ")
        async with session.get(
            sim.url_of("plug"), headers={"Authorization": "Bearer t0ken"}
        ) as resp:
            assert resp.status == 200
        async with session.get(sim.url_of("lamp")) as resp:
            assert resp.status == 200  # nosec Things stay open
    finally:
        await sim.stop()


# --------------------------------------------------------------------------------------------
# actions


async def test_async_action_lifecycle(
    wot_sim: WotSimulator, session: aiohttp.ClientSession
) -> None:
    base = thing_url(wot_sim, "lamp")
    lamp = wot_sim.things["lamp"]
    async with session.post(
        f"{base}/actions/fade", json={"brightness": 10, "duration": 600_000}
    ) as resp:
        assert resp.status == 201
        location = resp.headers["Location"]
        status = await resp.json()
    assert re.fullmatch(r"/things/lamp/actions/fade/[0-9a-f-]{36}", location)
    assert status["status"] == "pending"
    assert status["href"] == location
    assert status["timeRequested"].endswith("Z")
    status_url = f"{wot_sim.base_url.rstrip('/')}{location}"

    async def query() -> dict[str, Any]:
        async with session.get(status_url) as resp:
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
            return body

    await wait_for(lambda: lamp.action_records[location.rsplit("/", 1)[1]].status == "running")
    assert (await query())["status"] == "running"
    async with session.get(f"{base}/actions") as resp:
        assert [s["href"] for s in (await resp.json())["fade"]] == [location]
    async with session.delete(status_url) as resp:
        assert resp.status == 204
    async with session.get(status_url) as resp:
        assert resp.status == 404  # a cancelled request's status is deleted

    # A short fade runs to completion; its status is kept and can no longer be cancelled.
    async with session.post(
        f"{base}/actions/fade", json={"brightness": 30, "duration": 40}
    ) as resp:
        location = resp.headers["Location"]
        status_url = f"{wot_sim.base_url.rstrip('/')}{location}"
    await wait_for(lambda: lamp.action_records[location.rsplit("/", 1)[1]].finished)
    final = await query()
    assert final["status"] == "completed"
    assert "timeEnded" in final
    assert wot_sim.get_property("lamp", "brightness") == 30
    async with session.delete(status_url) as resp:
        assert resp.status == 409

    for body in ({"brightness": 101, "duration": 0}, {"brightness": 5}, "fast"):
        async with session.post(f"{base}/actions/fade", json=body) as resp:
            assert resp.status == 400, body
    async with session.post(f"{base}/actions/explode") as resp:
        assert resp.status == 404


async def test_sync_actions(wot_sim_all: WotSimulator, session: aiohttp.ClientSession) -> None:
    lamp = wot_sim_all.url_of("lamp")
    async with session.post(f"{lamp}/actions/toggle") as resp:
        assert (resp.status, await resp.json()) == (200, True)
    async with session.post(f"{lamp}/actions/toggle", json={"x": 1}) as resp:
        assert resp.status == 400  # toggle takes no input
    lock = wot_sim_all.url_of("lock")
    async with session.post(f"{lock}/actions/unlock", headers=BASIC) as resp:
        assert resp.status == 204
        assert await resp.read() == b""
    assert wot_sim_all.get_property("lock", "locked") == "unlocked"
    # A jam (set by the device) fires the jammed event; lock clears it.
    async with session.get(f"{lock}/events/jammed", headers=BASIC) as stream:
        messages = sse_messages(stream)
        wot_sim_all.set_property("lock", "locked", "jammed")
        jammed = await next_data(messages)
    assert (jammed["event"], jammed["data"]) == ("jammed", "null")
    async with session.post(f"{lock}/actions/lock", headers=BASIC) as resp:
        assert resp.status == 204
    assert wot_sim_all.get_property("lock", "locked") == "locked"


async def test_blinds_move_over_time_and_push_progress(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    # 20 ms per percent: slow enough that "stop" lands mid-travel, fast enough for a test.
    sim = WotSimulator([make_blinds(travel_time=2.0)], tick_interval=3600)
    await sim.start()
    try:
        await _blinds(sim, session)
    finally:
        await sim.stop()


async def _blinds(sim: WotSimulator, session: aiohttp.ClientSession) -> None:
    base = sim.url_of("blinds")
    blinds = sim.things["blinds"]
    async with session.get(f"{base}/properties/position/observation") as stream:
        messages = sse_messages(stream)
        async with session.put(f"{base}/properties/position", data=b"5") as resp:
            assert resp.status == 204  # answered at once; the blinds then move
        positions = [json.loads((await next_data(messages))["data"]) for _ in range(5)]
        assert positions == [1, 2, 3, 4, 5]

        async with session.post(f"{base}/actions/open") as resp:
            assert resp.status == 201
            location = resp.headers["Location"]
        record_id = location.rsplit("/", 1)[1]
        assert json.loads((await next_data(messages))["data"]) == 6
        async with session.post(f"{base}/actions/stop") as resp:
            assert resp.status == 204
    await wait_for(lambda: blinds.action_records[record_id].finished)
    async with session.get(f"{sim.base_url.rstrip('/')}{location}") as resp:
        status = await resp.json()
    assert status["status"] == "failed"
    assert status["error"]["title"] == "Interrupted"
    stopped_at = sim.get_property("blinds", "position")
    assert 6 <= stopped_at < 100
    # Closing runs to the end.
    async with session.post(f"{base}/actions/close") as resp:
        location = resp.headers["Location"]
    await wait_for(lambda: blinds.action_records[location.rsplit("/", 1)[1]].finished)
    assert sim.get_property("blinds", "position") == 0


# --------------------------------------------------------------------------------------------
# state that changes by itself


async def test_ticks_drive_state(wot_sim_all: WotSimulator) -> None:
    wot_sim_all.set_property("thermostat", "targetTemperature", 22.0)
    wot_sim_all.tick(10)
    assert wot_sim_all.get_property("thermostat", "temperature") == 19.5
    assert wot_sim_all.get_property("thermostat", "heatingCooling") == "heating"
    wot_sim_all.tick(100)
    assert wot_sim_all.get_property("thermostat", "temperature") == 22.0
    wot_sim_all.set_property("thermostat", "mode", "cool")
    wot_sim_all.set_property("thermostat", "targetTemperature", 20.0)
    wot_sim_all.tick(10)
    assert wot_sim_all.get_property("thermostat", "heatingCooling") == "cooling"
    assert wot_sim_all.get_property("thermostat", "temperature") == 21.5
    with pytest.raises(InvalidValueError, match=r"multiple of 0\.5"):
        wot_sim_all.set_property("thermostat", "targetTemperature", 20.2)

    energy = wot_sim_all.get_property("plug", "energy")
    wot_sim_all.tick(3600)  # one hour at about 100 W
    assert 0.09 < wot_sim_all.get_property("plug", "energy") - energy < 0.11
    wot_sim_all.set_property("plug", "on", False)
    assert wot_sim_all.get_property("plug", "power") == 0.0
    energy = wot_sim_all.get_property("plug", "energy")
    wot_sim_all.tick(3600)
    assert wot_sim_all.get_property("plug", "energy") == energy


async def test_the_plug_meter_counts_on_after_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The energy sensor is ``total_increasing``: a restarted simulator must not go back to its
    first reading (Home Assistant warns about a meter that dips)."""
    state_dir = tmp_path / "state"
    first = WotSimulator(build_things(["plug"], state_dir=state_dir), tick_interval=3600)
    assert first.get_property("plug", "energy") == PLUG_INITIAL_KWH  # nothing saved yet
    first.tick(3600)  # one hour at about 100 W
    reading = first.get_property("plug", "energy")
    assert reading > PLUG_INITIAL_KWH
    assert json.loads((state_dir / PLUG_STATE_FILE).read_text())["energy_kwh"] > reading - 1e-4

    again = WotSimulator(build_things(["plug"], state_dir=state_dir), tick_interval=3600)
    assert again.get_property("plug", "energy") == reading
    again.tick(3600)
    assert again.get_property("plug", "energy") > reading
    again.set_property("plug", "energy", 40.0)  # a value set from outside is kept too
    assert make_plug(state_dir=state_dir).properties["energy"].value == 40.0

    # no state directory: every start begins at the same reading, as before
    assert make_plug().properties["energy"].value == PLUG_INITIAL_KWH
    # a damaged file is reported and ignored
    for bad in ("{", '{"energy_kwh": -1}', '{"energy_kwh": "NaN"}', "[]"):
        (state_dir / PLUG_STATE_FILE).write_text(bad)
        assert make_plug(state_dir=state_dir).properties["energy"].value == PLUG_INITIAL_KWH
    assert caplog.text.count("ignoring the plug's saved state") == 4


def test_the_plug_meter_keeps_counting_when_its_state_cannot_be_saved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    plug = make_plug(state_dir=blocker / "state")  # a directory below a file cannot exist
    sim = WotSimulator([plug], tick_interval=3600)
    sim.tick(3600)
    sim.tick(3600)
    assert sim.get_property("plug", "energy") > PLUG_INITIAL_KWH + 0.15
    assert caplog.text.count("cannot save the plug's meter reading") == 1


async def test_simulator_process_reads_the_plug_state(tmp_path: Path, socket_enabled: None) -> None:
    (tmp_path / PLUG_STATE_FILE).write_text(json.dumps({"energy_kwh": 20.25}))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", "--wot-port", "0", "--tick", "3600",
        "--state-dir", str(tmp_path), "plug",
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.fullmatch(r"Thing plug: (http://127\.0\.0\.1:\d+/things/plug)\n", line)
        assert match, line
        async with (
            aiohttp.ClientSession(headers=BEARER) as session,
            session.get(f"{match[1]}/properties/energy") as resp,
        ):
            assert await resp.json() == 20.25
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_sensor_drifts_within_bounds(socket_enabled: None) -> None:
    sim = WotSimulator([make_sensor()], tick_interval=0.01)
    await sim.start()
    try:
        prop = sim.things["sensor"].properties["temperature"]
        seen = {prop.value}

        def ticked() -> bool:
            seen.add(prop.value)
            return len(seen) > 3

        await wait_for(ticked)  # the background ticker runs
        humidity: set[float] = set()
        for _ in range(300):
            sim.tick()
            seen.add(prop.value)
            humidity.add(sim.get_property("sensor", "humidity"))
        assert all(15.0 <= v <= 30.0 for v in seen)
        assert len(humidity) > 1
        assert all(30.0 <= h <= 70.0 for h in humidity)
    finally:
        await sim.stop()


async def test_a_failing_tick_is_logged_and_ticking_goes_on(
    socket_enabled: None, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[float] = []

    def flaky(thing: SimThing, seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 1:
            raise RuntimeError("sensor glitch")

    broken = make_sensor()
    broken.tick = flaky
    sim = WotSimulator([broken], tick_interval=0.01)
    await sim.start()
    try:
        await wait_for(lambda: len(calls) >= 3)
    finally:
        await sim.stop()
    failures = [r for r in caplog.records if "tick of Thing sensor failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is not None


async def test_programmatic_api_names_what_is_wrong(wot_sim: WotSimulator) -> None:
    with pytest.raises(NotFoundError, match="no Thing 'kettle'"):
        wot_sim.set_property("kettle", "on", True)
    with pytest.raises(NotFoundError, match="no property 'colour'"):
        wot_sim.get_property("lamp", "colour")
    with pytest.raises(InvalidValueError, match="brightness: 150 is above the maximum 100"):
        wot_sim.set_property("lamp", "brightness", 150)
    wot_sim.set_property("lamp", "brightness", 150, validate=False)
    assert wot_sim.get_property("lamp", "brightness") == 150
    with pytest.raises(ValueError, match="two Things have the slug 'lamp'"):
        WotSimulator([make_lamp(), make_lamp()])
    with pytest.raises(RuntimeError, match="already running"):
        await wot_sim.start()


# --------------------------------------------------------------------------------------------
# directory


async def test_directory_and_paging(
    wot_sim_all: WotSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(f"{wot_sim_all.base_url}.well-known/wot") as resp:
        assert resp.headers["Content-Type"].startswith("application/td+json")
        directory = parse_td(
            await resp.json(content_type=None), f"{wot_sim_all.base_url}.well-known/wot"
        )
    assert directory.semantic_types == ("ThingDirectory",)
    things_form = directory.properties["things"].forms[0]

    ids: list[str] = []
    url: str | None = str(things_form.target({"limit": 2}))
    pages = 0
    while url is not None:
        async with session.get(url) as resp:
            page = await resp.json()
            link = resp.headers.get("Link")
        assert len(page) <= 2
        ids += [td["id"] for td in page]
        pages += 1
        match = re.fullmatch(r'<(/things\?offset=\d+&limit=2)>; rel="next"', link or "")
        url = f"{wot_sim_all.base_url.rstrip('/')}{match[1]}" if match else None
    td_slugs = sorted(s for s in THING_FACTORIES if s != "webthing-switch")
    assert ids == [f"urn:thingbridge:simulator:{s}" for s in td_slugs]
    assert pages == 3

    async with session.get(
        f"{wot_sim_all.base_url}things", headers={"Accept": "application/ld+json"}
    ) as resp:
        assert resp.headers["Content-Type"].startswith("application/ld+json")
        assert len(await resp.json(content_type=None)) == len(td_slugs)
        assert "Link" not in resp.headers
    for query in ("offset=-1", "limit=0", "limit=x"):
        async with session.get(f"{wot_sim_all.base_url}things?{query}") as resp:
            assert resp.status == 400, query
    retrieve = directory.actions["retrieveThing"].forms[0]
    async with session.get(str(retrieve.target({"id": "urn:thingbridge:simulator:lamp"}))) as resp:
        assert (await resp.json(content_type=None))["title"] == "Simulated Lamp"


# --------------------------------------------------------------------------------------------
# WebThings dialect


async def test_webthings_rest(wot_sim_all: WotSimulator, session: aiohttp.ClientSession) -> None:
    async with session.get(f"{wot_sim_all.base_url}webthings/") as resp:
        listing = await resp.json()
    assert [d["title"] for d in listing] == ["Simulated WebThings Dimmer"]
    description = listing[0]
    assert description["@context"] == "https://webthings.io/schemas"
    assert description["properties"]["on"]["links"] == [
        {"rel": "property", "href": "/webthings/webthing-switch/properties/on"}
    ]
    assert description["events"]["overheated"]["unit"] == "degree celsius"  # top level
    assert "forms" not in description["properties"]["on"]
    base = wot_sim_all.url_of("webthing-switch")
    async with session.get(f"{base}/properties/on") as resp:
        assert await resp.json() == {"on": False}
    async with session.put(f"{base}/properties/level", json={"level": 70}) as resp:
        assert (resp.status, await resp.json()) == (200, {"level": 70})
    for body in ({"level": 170}, {"on": True}, 70):
        async with session.put(f"{base}/properties/level", json=body) as resp:
            assert resp.status == 400, body
    async with session.get(f"{base}/properties") as resp:
        assert await resp.json() == {"on": False, "level": 70}

    thing = wot_sim_all.things["webthing-switch"]
    async with session.post(f"{base}/actions", json={"toggle": {}}) as resp:
        assert resp.status == 201
        created = (await resp.json())["toggle"]
    assert created["status"] == "created"
    assert created["href"].startswith("/webthings/webthing-switch/actions/toggle/")
    record_id = created["href"].rsplit("/", 1)[1]
    await wait_for(lambda: thing.action_records[record_id].finished)
    async with session.get(f"{wot_sim_all.base_url.rstrip('/')}{created['href']}") as resp:
        done = (await resp.json())["toggle"]
    assert done["status"] == "completed"
    assert "timeCompleted" in done
    assert wot_sim_all.get_property("webthing-switch", "on") is True
    async with session.post(
        f"{base}/actions/fade", json={"fade": {"input": {"level": 10, "duration": 0}}}
    ) as resp:
        assert resp.status == 201
    async with session.post(f"{base}/actions/fade", json={"toggle": {}}) as resp:
        assert resp.status == 400
    async with session.get(f"{base}/actions/toggle") as resp:
        assert [list(a) for a in await resp.json()] == [["toggle"]]
    async with session.delete(f"{wot_sim_all.base_url.rstrip('/')}{created['href']}") as resp:
        assert resp.status == 204

    wot_sim_all.emit_event("webthing-switch", "overheated", 90)
    async with session.get(f"{base}/events/overheated") as resp:
        log = await resp.json()
    assert log[0]["overheated"]["data"] == 90
    assert log[0]["overheated"]["timestamp"].endswith("Z")


async def test_webthings_websocket(
    wot_sim_all: WotSimulator, session: aiohttp.ClientSession
) -> None:
    async with session.get(wot_sim_all.url_of("webthing-switch")) as resp:
        td = parse_td(await resp.json(), wot_sim_all.url_of("webthing-switch"))
    assert td.websocket is not None

    async with session.ws_connect(str(td.websocket), protocols=("webthing",)) as ws:
        assert ws.protocol == "webthing"

        async def receive(kind: str) -> dict[str, Any]:
            async with asyncio.timeout(GUARD):
                while True:
                    message: dict[str, Any] = await ws.receive_json()
                    if message["messageType"] == kind:
                        return message

        await ws.send_json({"messageType": "setProperty", "data": {"level": 42}})
        assert (await receive("propertyStatus"))["data"] == {"level": 42}
        wot_sim_all.set_property("webthing-switch", "on", True)
        assert (await receive("propertyStatus"))["data"] == {"on": True}

        await ws.send_json({"messageType": "requestAction", "data": {"toggle": {}}})
        statuses: list[str] = []
        while not statuses or statuses[-1] != "completed":
            statuses.append((await receive("actionStatus"))["data"]["toggle"]["status"])
        assert statuses == ["created", "pending", "completed"]
        assert wot_sim_all.get_property("webthing-switch", "on") is False

        wot_sim_all.emit_event("webthing-switch", "overheated", 80)  # not subscribed yet
        await ws.send_json({"messageType": "addEventSubscription", "data": {"overheated": {}}})
        await ws.send_json({"messageType": "setProperty", "data": {"level": 7}})
        await receive("propertyStatus")  # the subscription is in place once this round trip ends
        wot_sim_all.emit_event("webthing-switch", "overheated", 95)
        event = await receive("event")
        assert event["data"]["overheated"]["data"] == 95

        for bad, reason in [
            ("{not json", "Parsing request failed"),
            ({"messageType": "setProperty", "data": {"level": 1000}}, "above the maximum"),
            ({"messageType": "requestAction", "data": {"explode": {}}}, "no action 'explode'"),
            ({"messageType": "dance", "data": {}}, "Unknown messageType: dance"),
        ]:
            await (ws.send_str(bad) if isinstance(bad, str) else ws.send_json(bad))
            error = await receive("error")
            assert error["data"]["status"] == "400 Bad Request"
            assert reason in error["data"]["message"]


# --------------------------------------------------------------------------------------------
# shutting down with consumers attached


async def test_stop_ends_streams_long_polls_and_sockets(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    sim = WotSimulator(build_things(["lamp", "sensor", "webthing-switch"]), tick_interval=3600)
    await sim.start()
    stream = await session.get(f"{thing_url(sim, 'lamp')}/observation")
    poll = asyncio.create_task(session.get(f"{thing_url(sim, 'sensor')}/observation"))
    ws = await session.ws_connect(sim.url_of("webthing-switch"))
    await wait_for(lambda: sim.things["sensor"].subscriber_count == 1)
    closing = asyncio.create_task(ws.receive())  # a consumer reads its socket all the time
    async with asyncio.timeout(GUARD):
        await sim.stop()
        assert await stream.content.read() == b"retry: 3000\n\n"  # the stream ended cleanly
        resp = await poll
        assert resp.status == 503
        assert (await closing).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    stream.release()
    resp.release()
    await ws.close()
    assert all(t.subscriber_count == 0 for t in sim.things.values())
    # The same simulator serves again after a restart.
    await sim.start()
    try:
        async with session.get(thing_url(sim, "lamp")) as again:
            assert again.status == 200
    finally:
        await sim.stop()


# --------------------------------------------------------------------------------------------
# mDNS, inside a private network namespace


MDNS_CHECK = r"""
import asyncio, json
import aiohttp
from zeroconf import IPVersion, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf
from simulator.things import build_things
from simulator.wot import WotSimulator

WANT = {"_wot._tcp.local.": 3, "_directory._sub._wot._tcp.local.": 1, "_webthing._tcp.local.": 1}

async def main():
    sim = WotSimulator(build_things(["lamp", "sensor", "webthing-switch"]), tick_interval=3600)
    await sim.start("127.0.0.1", 0, advertise=True)
    found = {t: set() for t in WANT}
    azc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    def changed(zeroconf, service_type, name, state_change):
        if state_change is ServiceStateChange.Added:
            found[service_type].add(name)
    browser = AsyncServiceBrowser(azc.zeroconf, list(WANT), handlers=[changed])
    async with asyncio.timeout(30):
        while any(len(found[t]) < n for t, n in WANT.items()):
            await asyncio.sleep(0.05)
    out = {}
    async with aiohttp.ClientSession() as session:
        for type_, names in found.items():
            for name in sorted(names):
                info = AsyncServiceInfo(type_, name)
                assert await info.async_request(azc.zeroconf, 3000)
                txt = info.decoded_properties
                entry = {"port": info.port, "addresses": info.parsed_addresses(), "txt": txt}
                path = txt.get("td") or txt.get("path")
                url = f"{txt.get('scheme', 'http')}://{entry['addresses'][0]}:{info.port}{path}"
                async with session.get(url) as resp:
                    body = await resp.json(content_type=None)
                entry["fetched"] = body["title"] if isinstance(body, dict) else len(body)
                out.setdefault(type_, {})[name] = entry
    print(json.dumps({"port": sim.port, "services": out}))
    await browser.async_cancel()
    await azc.async_close()
    await sim.stop()

asyncio.run(main())
"""


def _namespace_prefix() -> list[str] | None:
    """``unshare`` arguments that give a private network namespace here, if any do."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return None
    for args in (["unshare", "-n"], ["unshare", "-rn"]):
        probe = subprocess.run([*args, "true"], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            return args
    return None


def test_mdns_advertisement_in_a_network_namespace(tmp_path: Path) -> None:
    prefix = _namespace_prefix()
    if prefix is None:
        pytest.skip("cannot create a private network namespace (unshare -n) here")
    script = tmp_path / "mdns_check.py"
    script.write_text(MDNS_CHECK)
    inner = f"ip link set lo up && ip link set lo multicast on && exec {sys.executable} {script}"
    result = subprocess.run(
        [*prefix, "sh", "-c", inner],
        cwd=REPO, capture_output=True, text=True, timeout=90, check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    port, services = report["port"], report["services"]
    for entries in services.values():
        for entry in entries.values():
            assert entry["port"] == port
            assert entry["addresses"] == ["127.0.0.1"]
    wot = services["_wot._tcp.local."]
    assert wot["Simulated Lamp._wot._tcp.local."]["txt"] == {
        "td": "/things/lamp",
        "type": "Thing",
        "scheme": "http",
    }
    assert wot["Simulated Lamp._wot._tcp.local."]["fetched"] == "Simulated Lamp"
    assert wot["Simulated Temperature Sensor._wot._tcp.local."]["txt"]["td"] == "/things/sensor"
    directory_txt = {"td": "/.well-known/wot", "type": "Directory", "scheme": "http"}
    name = "ThingBridge Simulator Directory._wot._tcp.local."
    assert wot[name]["txt"] == directory_txt
    assert services["_directory._sub._wot._tcp.local."][name]["txt"] == directory_txt
    assert wot[name]["fetched"] == "ThingBridge Simulator Directory"
    webthing = services["_webthing._tcp.local."][
        "ThingBridge Simulator WebThings._webthing._tcp.local."
    ]
    assert webthing["txt"] == {"path": "/webthings/"}
    assert webthing["fetched"] == 1  # the list of WebThings descriptions


def test_advertiser_needs_a_specific_ipv4_address() -> None:
    from simulator.mdns import Advertiser  # noqa: PLC0415

    for host in ("0.0.0.0", "::1", "localhost"):
        with pytest.raises(ValueError, match="mDNS needs"):
            Advertiser(host, 8580, [])


def test_things_share_nothing() -> None:
    first, second = make_lamp(), make_lamp()
    first.properties["on"].value = True
    assert second.properties["on"].value is False
    assert isinstance(first, SimThing)
    with pytest.raises(ValueError, match="travel_time must be positive"):
        make_blinds(travel_time=0)
