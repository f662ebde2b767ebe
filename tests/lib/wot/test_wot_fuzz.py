"""Hypothesis: mutated Thing Descriptions and malformed device answers never escape as crashes.

Whatever a device serves, the library either works or raises a :class:`WotError` naming what
was wrong: no other exception, no hang (every request here is bounded by a timeout).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
import copy
import json
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.thingbridge.wot import WotClient, WotError, parse_td
from custom_components.thingbridge.wot.mapping import map_thing

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "wot-td"

SEED_TD: dict[str, Any] = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "title": "Seed",
    "id": "urn:seed",
    "base": "http://127.0.0.1:1/",
    "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
    "security": "nosec_sc",
    "properties": {
        "on": {"type": "boolean", "@type": "OnOffProperty", "forms": [{"href": "p/on"}]},
        "level": {"type": "integer", "minimum": 0, "maximum": 100, "unit": "%",
                  "forms": [{"href": "p/level", "op": ["readproperty", "writeproperty"]}]},
        "temp": {"type": "number", "readOnly": True, "unit": "om2:degreeCelsius",
                 "observable": True,
                 "forms": [{"href": "p/temp"},
                           {"href": "p/temp/sse", "op": "observeproperty", "subprotocol": "sse"}]},
    },
    "actions": {"fade": {"input": {"type": "object", "properties": {"to": {"type": "integer"}}},
                         "forms": [{"href": "a/fade{?t}"}]}},
    "events": {"alarm": {"data": {"type": "string"}, "forms": [{"href": "e/alarm"}]}},
    "forms": [{"href": "all", "op": "readallproperties"}],
}  # fmt: skip

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
INTERESTING_STRINGS = st.sampled_from(
    ["", " ", "{", "}", "{id}", "{?x}", "coap://h/p", "file:///etc/passwd", "http://", "//h/p",
     "../../x", "http://[::1", "ws://h/ws", "\x00", "é", "readproperty", "observeproperty", "sse",
     "longpoll", "combo", "nosec", "basic", "Light", "OnOffProperty", "%", "kWh"]
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _mutate(doc: Any, data: st.DataObject, rounds: int) -> Any:
    """Replace, delete or retype members anywhere in ``doc``."""
    doc = copy.deepcopy(doc)
    for _ in range(rounds):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "string", "wrap"]))
        last = path[-1]
        if action == "delete":
            del parent[last]
        elif action == "replace":
            parent[last] = data.draw(JSON_VALUES)
        elif action == "string":
            parent[last] = data.draw(INTERESTING_STRINGS)
        else:
            parent[last] = [parent[last]]
    return doc


def _check_parse_and_map(raw: Any) -> None:
    try:
        td = parse_td(raw, source_url="http://127.0.0.1:1/td")
    except WotError as err:
        message = str(err)
        assert message, "an error must say what was wrong"
        return
    for spec in map_thing(td):
        assert spec.platform
        json.dumps(spec.as_dict())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rounds=st.integers(min_value=1, max_value=6))
def test_mutated_tds_parse_or_raise_wot_errors(data: st.DataObject, rounds: int) -> None:
    _check_parse_and_map(_mutate(SEED_TD, data, rounds))


@settings(max_examples=100, deadline=None)
@given(raw=JSON_VALUES)
def test_arbitrary_json_is_not_a_td_but_no_crash(raw: Any) -> None:
    _check_parse_and_map(raw)


def _corpus() -> list[Path]:
    return sorted(CORPUS.glob("*.json*")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not _corpus(), reason="../shared/corpus/wot-td is not present")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rounds=st.integers(min_value=1, max_value=4))
def test_mutated_real_tds(data: st.DataObject, rounds: int) -> None:
    path = data.draw(st.sampled_from(_corpus()))
    _check_parse_and_map(_mutate(json.loads(path.read_text()), data, rounds))


# ------------------------------------------------------------------------------------------
# malformed answers from a device


class Answers:
    """A loopback device whose every answer is the body/status/content type a test sets."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.content_type = "application/json"
        self.headers: dict[str, str] = {}
        self.base = ""

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        return web.Response(
            body=self.body, status=self.status, content_type=self.content_type,
            headers=self.headers,
        )  # fmt: skip


@pytest.fixture
async def device(socket_enabled: None) -> AsyncGenerator[Answers]:
    answers = Answers()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answers.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    answers.base = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    yield answers
    await runner.cleanup()


BODIES = st.one_of(
    st.binary(max_size=200),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"", b"null", b"{", b'{"status": "running"}', b'{"status": "failed"}',
                     b"\xff\xfe", b'{"level": 5}', b"[1,2,3]", b'"x"' * 1000]),
)  # fmt: skip


async def test_malformed_answers_raise_wot_errors_only(device: Answers) -> None:
    td = parse_td({**SEED_TD, "base": device.base}, source_url=f"{device.base}td")

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        body=BODIES,
        status=st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 500, 503]),
        content_type=st.sampled_from(["application/json", "text/plain", "text/html"]),
        location=st.sampled_from([None, "/a/fade/1", "http://elsewhere.test/x", "::"]),
    )
    def collect(body: bytes, status: int, content_type: str, location: str | None) -> None:
        # Hypothesis draws the answers here; they are replayed against the device below,
        # inside the test's event loop.
        results.append((body, status, content_type, location))

    results: list[tuple[bytes, int, str, str | None]] = []
    collect()
    messages: list[str] = []
    async with aiohttp.ClientSession() as session:
        client = WotClient(
            session, td, request_timeout=2.0, action_timeout=0.3, action_poll_interval=0.05
        )
        for body, status, content_type, location in results:
            device.body, device.status, device.content_type = body, status, content_type
            device.headers = {"Location": location} if location and status in (201, 301) else {}
            for operation in (
                client.read_property("temp"),
                client.read_all_properties(),
                client.write_property("level", 5),
                client.invoke_action("fade", {"to": 3}),
            ):
                try:
                    await operation
                except WotError as err:
                    messages.append(str(err))
    assert results
    assert all(messages), "every error must say what was wrong"
