"""The ``describe`` dry-run tool, run as a real subprocess and in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
import io
import json
import os
from pathlib import Path
import subprocess
import sys
from typing import Any

from aiohttp import web
import pytest

from custom_components.thingbridge.wot.__main__ import (
    EXIT_OK,
    EXIT_REJECTED,
    InputError,
    load_json_file,
    main,
)
from custom_components.thingbridge.wot.td import MAX_TD_BYTES

REPO = Path(__file__).resolve().parents[3]


def lamp_td() -> dict[str, Any]:
    """A dimmable lamp: one main light entity plus a button."""
    return {
        "@context": "https://www.w3.org/2022/wot/td/v1.1",
        "title": "Desk Lamp",
        "base": "http://192.0.2.10/",
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
        "@type": "Light",
        "properties": {
            "on": {"@type": "OnOffProperty", "type": "boolean", "forms": [{"href": "on"}]},
            "level": {
                "@type": "BrightnessProperty",
                "type": "integer",
                "minimum": 0,
                "maximum": 100,
                "unit": "percent",
                "forms": [{"href": "level"}],
            },
        },
        "actions": {"blink": {"title": "Blink", "forms": [{"href": "blink"}]}},
    }


def sensor_td(title: str = "Boiler") -> dict[str, Any]:
    return {
        "title": title,
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
        "properties": {
            "temp": {
                "title": "Temperature",
                "type": "number",
                "unit": "°C",
                "readOnly": True,
                "forms": [{"href": "temp"}],
            },
            "broken": {"type": "number", "forms": [{"href": "gopher://x/temp"}]},
        },
    }


LAMP_ENTITIES = [
    {
        "platform": "light",
        "name": None,
        "affordance": "on",
        "roles": {"on": "on", "brightness": "level"},
    },
    {"platform": "button", "name": "Blink", "affordance": "blink"},
]


def lines_of(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.fixture
def td_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "lamp": tmp_path / "lamp.td.json",
        "sensor": tmp_path / "sensor.td.jsonld",
        "untitled": tmp_path / "untitled.json",
        "text": tmp_path / "notes.txt",
        "big": tmp_path / "big.json",
        "listing": tmp_path / "listing.json",
        "relative": tmp_path / "relative.json",
    }
    files["lamp"].write_text(json.dumps(lamp_td()))
    sensor = sensor_td()
    sensor["base"] = "http://192.0.2.11/"
    files["sensor"].write_text(json.dumps(sensor, ensure_ascii=False), encoding="utf-8")
    untitled = lamp_td()
    del untitled["title"]
    files["untitled"].write_text(json.dumps(untitled))
    files["text"].write_text("temperature = 21\n")
    files["big"].write_bytes(b'{"title": "x", "pad": "' + b"y" * MAX_TD_BYTES + b'"}')
    files["listing"].write_text(json.dumps([lamp_td(), 42]))
    files["relative"].write_text(json.dumps(sensor_td("Relative")))
    return files


async def run_cli(*args: str) -> tuple[int, str, str]:
    """The CLI as a real subprocess, without blocking the loop that serves its requests."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "custom_components.thingbridge.wot",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@dataclass
class TdServer:
    url: str
    authorization: list[str | None] = field(default_factory=list)


@pytest.fixture
async def td_server(socket_enabled: None) -> AsyncGenerator[TdServer]:
    """A loopback server with a TD, and a paged directory listing holding a broken TD."""
    app = web.Application()
    served = TdServer("")
    lamp = lamp_td()
    del lamp["base"]  # relative hrefs resolve against the URL the TD came from
    untitled = sensor_td()
    del untitled["title"]

    async def listing(request: web.Request) -> web.Response:
        if "offset" in request.query:
            return web.json_response([sensor_td("Second page")])
        return web.json_response(
            [sensor_td("Boiler"), untitled], headers={"Link": '</things?offset=2>; rel="next"'}
        )

    async def lamp_handler(request: web.Request) -> web.Response:
        served.authorization.append(request.headers.get("Authorization"))
        return web.json_response(lamp)

    async def empty(request: web.Request) -> web.Response:
        return web.json_response([])

    app.router.add_get("/empty", empty)
    app.router.add_get("/lamp", lamp_handler)
    app.router.add_get("/things", listing)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    served.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield served
    await runner.cleanup()


async def test_cli_subprocess(
    td_files: dict[str, Path], tmp_path: Path, td_server: TdServer
) -> None:
    """Two real runs of the command, side by side (each pays for importing the package)."""
    base = td_server.url
    good_run, bad_run = await asyncio.gather(
        run_cli(
            "describe",
            "--base",
            "http://192.0.2.12/td",
            str(td_files["lamp"]),
            str(td_files["sensor"]),
            str(td_files["relative"]),
        ),
        run_cli(
            "describe",
            str(td_files["lamp"]),
            str(td_files["untitled"]),
            str(td_files["text"]),
            str(td_files["big"]),
            str(tmp_path / "missing.json"),
            str(tmp_path),
            str(td_files["listing"]),
            str(td_files["relative"]),
            f"{base}/lamp",
            f"{base}/things",
            f"{base}/nothing",
        ),
    )

    # Every TD usable: exit status 0, one line per TD.
    status, out, err = good_run
    assert status == EXIT_OK, err
    assert err == ""
    lamp, sensor, relative = lines_of(out)
    assert lamp == {
        "source": str(td_files["lamp"]),
        "title": "Desk Lamp",
        "entities": LAMP_ENTITIES,
        "skipped": [],
        "services": [],
    }
    assert sensor["title"] == "Boiler"
    assert sensor["entities"] == [
        {
            "platform": "sensor",
            "name": "Temperature",
            "affordance": "temp",
            "device_class": "temperature",
            "unit": "°C",
        }
    ]
    assert sensor["skipped"] == [
        "$.properties.broken.forms[0].href: unsupported URI scheme 'gopher'"
    ]
    # Relative hrefs resolve against --base.
    assert relative["title"] == "Relative"
    assert [e["affordance"] for e in relative["entities"]] == ["temp"]

    # Rejections: exit status 2, an error line each, and no traceback.
    status, out, err = bad_run
    assert status == EXIT_REJECTED
    assert "Traceback" not in err
    lines = lines_of(out)
    file_lines, url_lines = lines[:-5], lines[-5:]
    assert file_lines[0]["title"] == "Desk Lamp"
    errors = {line["source"]: line["error"] for line in file_lines if "error" in line}
    assert errors == {
        str(td_files["untitled"]): "$.title: missing or empty",
        str(td_files["text"]): "not JSON: Expecting value: line 1 column 1 (char 0)",
        str(td_files["big"]): (
            f"larger than the {MAX_TD_BYTES}-byte limit for a Thing Description"
        ),
        str(tmp_path / "missing.json"): "cannot read the file: No such file or directory",
        str(tmp_path): "cannot read the file: Is a directory",
        # An array is a list of TDs, each named by its index.
        f"{td_files['listing']}#1": "$: a Thing Description must be a JSON object",
        # Relative hrefs and no base: every property is unusable, so the TD is rejected.
        str(td_files["relative"]): (
            "$.properties.temp.forms[0].href: relative href 'temp' and no base to resolve it "
            "against"
        ),
    }
    assert file_lines[-3]["source"] == f"{td_files['listing']}#0"
    assert file_lines[-3]["title"] == "Desk Lamp"

    # URLs: a TD, a paged listing with a broken TD in it, and an address that fails.
    lines = url_lines
    assert lines[0] == {
        "source": f"{base}/lamp",
        "title": "Desk Lamp",
        "entities": LAMP_ENTITIES,
        "skipped": [],
        "services": [],
    }
    assert [line.get("title") for line in lines[1:]] == ["Boiler", "Second page", None, None]
    assert lines[1]["source"] == f"{base}/things#0"
    assert lines[3] == {"source": f"{base}/things#1", "error": "$.title: missing or empty"}
    assert lines[4] == {
        "source": f"{base}/nothing",
        "error": f"GET {base}/nothing: HTTP 404 Not Found",
    }


# --------------------------------------------------------------------------------------------
# in-process (the same code paths, measured by coverage)


def test_main_in_process(td_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    assert main(["describe", str(td_files["lamp"])], out=out) == EXIT_OK
    assert lines_of(out.getvalue())[0]["entities"] == LAMP_ENTITIES

    out = io.StringIO()
    assert main(["describe", str(td_files["untitled"]), str(td_files["text"])], out=out) == 2
    assert [line["error"][:9] for line in lines_of(out.getvalue())] == ["$.title: ", "not JSON:"]

    out = io.StringIO()
    argv = ["describe", "--base", "http://192.0.2.1/", str(td_files["relative"])]
    assert main([*argv, str(td_files["big"]), str(td_files["listing"]) + ".missing"], out=out) == 2
    relative, big, missing = lines_of(out.getvalue())
    assert relative["entities"][0]["affordance"] == "temp"
    assert big["error"].startswith("larger than the 1048576-byte limit")
    assert missing["error"] == "cannot read the file: No such file or directory"

    stdin = io.TextIOWrapper(io.BytesIO(json.dumps(lamp_td()).encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    out = io.StringIO()
    assert main(["describe", "-"], out=out) == EXIT_OK
    assert lines_of(out.getvalue())[0]["source"] == "-"


def test_load_json_file_errors(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="JSON nested too deeply"):
        load_json_file(deep)
    latin = tmp_path / "latin1.json"
    latin.write_bytes(b'{"title": "caf\xe9"}')
    with pytest.raises(InputError, match="not JSON"):
        load_json_file(latin)


async def test_main_in_process_over_a_url(
    td_server: TdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = td_server.url
    monkeypatch.setenv("THINGBRIDGE_TOKEN", "s3cret")
    out = io.StringIO()
    # main() runs its own event loop, so it runs in a thread while this loop serves.
    argv = ["describe", "--timeout", "5", f"{base}/lamp", f"{base}/things", f"{base}/empty"]
    argv.append(f"{base}/nothing")
    status = await asyncio.to_thread(main, argv, out)
    assert status == EXIT_REJECTED
    lines = lines_of(out.getvalue())
    assert [line.get("title") for line in lines] == [
        "Desk Lamp",
        "Boiler",
        "Second page",
        None,
        None,
        None,
    ]
    assert lines[-2] == {"source": f"{base}/empty", "error": "no Thing Description found"}
    assert lines[-1]["error"] == f"GET {base}/nothing: HTTP 404 Not Found"

    assert "s3cret" not in out.getvalue()

    # A password alone is HTTP basic authentication with an empty user name.
    monkeypatch.delenv("THINGBRIDGE_TOKEN")
    monkeypatch.setenv("THINGBRIDGE_PASSWORD", "pw")
    out = io.StringIO()
    assert await asyncio.to_thread(main, ["describe", f"{base}/lamp"], out) == EXIT_OK
    monkeypatch.delenv("THINGBRIDGE_PASSWORD")
    out = io.StringIO()
    assert await asyncio.to_thread(main, ["describe", f"{base}/lamp"], out) == EXIT_OK
    # A password written into a URL is sent, but never printed.
    out = io.StringIO()
    secret_url = base.replace("//", "//me:hunter2@") + "/lamp"
    assert await asyncio.to_thread(main, ["describe", secret_url, "http://[::1"], out) == 2
    assert "hunter2" not in out.getvalue()
    lines = lines_of(out.getvalue())
    assert lines[0]["source"] == secret_url.replace("hunter2", "***")
    assert lines[1] == {"source": "http://[::1", "error": "url: not a valid URL"}
    assert td_server.authorization == [
        "Bearer s3cret",
        "Basic OnB3",
        None,
        "Basic bWU6aHVudGVyMg==",
    ]


def test_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as helped:
        main(["describe", "--help"])
    assert helped.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "null for a Thing's main entity" in text
    assert "Exit status: 0 when every TD was usable, 2 when any was rejected" in text

    for argv, message in [
        (["describe"], "the following arguments are required: TD_FILE_OR_URL"),
        (["describe", "--base", "ftp://x/", str(tmp_path)], "not an absolute http(s) URL"),
        (["describe", "--base", "http://[::1", str(tmp_path)], "not a URL"),
        (["describe", "--timeout", "0", str(tmp_path)], "must be between 0 and 3600 seconds"),
        (["describe", "--timeout", "soon", str(tmp_path)], "not a number: 'soon'"),
        (["browse", "--timeout", "-1"], "must be between 0 and 3600 seconds"),
        ([], "the following arguments are required: COMMAND"),
    ]:
        with pytest.raises(SystemExit) as failed:
            main(argv)
        assert failed.value.code == 2
        assert message in capsys.readouterr().err
