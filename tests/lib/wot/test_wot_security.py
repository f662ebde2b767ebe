"""Security schemes against real loopback servers that check what they receive."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
import datetime as dt
import hashlib
import ipaddress
import logging
from pathlib import Path
import secrets
import socket
import ssl
from typing import Any

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import pytest

from custom_components.thingbridge.wot import (
    Credentials,
    WotAuthError,
    WotClient,
    WotConnectionError,
    WotError,
    WotResponseError,
    WotValidationError,
    fetch_json,
    fetch_thing_description,
    parse_td,
)
from custom_components.thingbridge.wot.discovery import explore
from custom_components.thingbridge.wot.security import Authenticator, safe_url

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    """A loopback server whose single handler the test provides."""

    def __init__(self) -> None:
        self.runners: list[web.AppRunner] = []

    async def start(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
        self.runners.append(runner)
        scheme = "https" if ssl_context else "http"
        return f"{scheme}://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def server(socket_enabled: None) -> AsyncGenerator[Server]:
    srv = Server()
    yield srv
    for runner in srv.runners:
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def secured_td(base: str, definitions: dict[str, Any], security: list[str] | str) -> Any:
    return parse_td(
        {
            "title": "Secured",
            "securityDefinitions": definitions,
            "security": security,
            "properties": {"p": {"type": "number", "forms": [{"href": "/p"}]}},
        },
        source_url=f"{base}/td",
    )


def checking(
    check: Callable[[web.Request], bool], seen: list[web.Request] | None = None
) -> Handler:
    """A handler answering 42 when ``check`` accepts the request, else 401."""

    async def handle(request: web.Request) -> web.Response:
        if seen is not None:
            seen.append(request)
        if not check(request):
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="t"'})
        return web.json_response(42)

    return handle


BASIC_OK = aiohttp.encode_basic_auth("ann", "s3cret")


async def test_basic(server: Server, session: aiohttp.ClientSession) -> None:
    base = await server.start(checking(lambda r: r.headers.get("Authorization") == BASIC_OK))
    td = secured_td(base, {"b": {"scheme": "basic"}}, "b")
    good = Credentials(username="ann", password="s3cret")
    assert await WotClient(session, td, credentials=good).read_property("p") == 42
    bad = Credentials(username="ann", password="wrong-pass")
    with pytest.raises(WotAuthError, match="HTTP 401: the Thing refused the credentials") as err:
        await WotClient(session, td, credentials=bad).read_property("p")
    assert err.value.status == 401
    assert "wrong-pass" not in str(err.value)


async def test_missing_credentials_named_before_any_request(
    server: Server, session: aiohttp.ClientSession
) -> None:
    seen: list[web.Request] = []
    base = await server.start(checking(lambda r: True, seen))
    td = secured_td(base, {"b": {"scheme": "basic"}}, "b")
    with pytest.raises(WotAuthError, match=r"'b' \(basic\) needs a user name and a password"):
        await WotClient(session, td).read_property("p")
    td = secured_td(base, {"k": {"scheme": "apikey", "in": "header", "name": "X-Key"}}, "k")
    with pytest.raises(WotAuthError, match=r"'k' \(apikey\) needs an API key"):
        await WotClient(session, td, credentials=Credentials(token="t")).read_property("p")
    td = secured_td(base, {"t": {"scheme": "bearer"}}, "t")
    with pytest.raises(WotAuthError, match=r"'t' \(bearer\) needs an access token"):
        await WotClient(session, td).read_property("p")
    td = secured_td(base, {"x": {"scheme": "psk"}}, "x")
    with pytest.raises(WotAuthError, match=r"'x' \(psk\) is not supported"):
        await WotClient(session, td, credentials=Credentials(token="t")).read_property("p")
    assert seen == []


async def test_unauthenticated_401_says_credentials_are_needed(
    server: Server, session: aiohttp.ClientSession
) -> None:
    base = await server.start(checking(lambda r: False))
    td = secured_td(base, {"n": {"scheme": "nosec"}}, "n")
    with pytest.raises(WotAuthError, match="HTTP 401: the Thing needs credentials"):
        await WotClient(session, td).read_property("p")


async def test_forbidden_is_an_auth_error(server: Server, session: aiohttp.ClientSession) -> None:
    async def forbidden(request: web.Request) -> web.Response:
        return web.Response(status=403)

    base = await server.start(forbidden)
    td = secured_td(base, {"t": {"scheme": "bearer"}}, "t")
    with pytest.raises(WotAuthError, match="HTTP 403") as err:
        await WotClient(session, td, credentials=Credentials(token="tok")).read_property("p")
    assert err.value.status == 403


async def test_bearer_header_and_query(server: Server, session: aiohttp.ClientSession) -> None:
    base = await server.start(
        checking(
            lambda r: (
                r.headers.get("Authorization") == "Bearer tok-1" or r.query.get("jwt") == "tok-1"
            )
        )
    )
    creds = Credentials(token="tok-1")
    td = secured_td(base, {"t": {"scheme": "bearer"}}, ["t"])
    assert await WotClient(session, td, credentials=creds).read_property("p") == 42
    td = secured_td(base, {"t": {"scheme": "bearer", "in": "query", "name": "jwt"}}, ["t"])
    assert await WotClient(session, td, credentials=creds).read_property("p") == 42
    # oauth2 with a token the user obtained elsewhere goes as a bearer token.
    td = secured_td(base, {"o": {"scheme": "oauth2", "flow": "code"}}, ["o"])
    assert await WotClient(session, td, credentials=creds).read_property("p") == 42


async def test_apikey_header_query_cookie_and_uri(
    server: Server, session: aiohttp.ClientSession
) -> None:
    key = "k/ey+1&x"
    seen: list[web.Request] = []
    base = await server.start(
        checking(
            lambda r: (
                key
                in (
                    r.headers.get("X-Key"),
                    r.query.get("key"),
                    r.cookies.get("session"),
                    r.match_info["tail"].removeprefix("k/"),
                )
            ),
            seen,
        )
    )
    creds = Credentials(api_key=key)
    for definition in (
        {"scheme": "apikey", "in": "header", "name": "X-Key"},
        {"scheme": "apikey", "in": "query", "name": "key"},
        {"scheme": "apikey", "in": "cookie", "name": "session"},
    ):
        td = secured_td(base, {"k": definition}, "k")
        assert await WotClient(session, td, credentials=creds).read_property("p") == 42
    td = parse_td(
        {
            "title": "T",
            "securityDefinitions": {"k": {"scheme": "apikey", "in": "uri", "name": "key"}},
            "security": "k",
            "properties": {"p": {"forms": [{"href": "/k/{key}"}]}},
        },
        source_url=f"{base}/td",
    )
    assert await WotClient(session, td, credentials=creds).read_property("p") == 42
    assert len(seen) == 4


async def test_apikey_in_query_is_redacted_from_errors(
    server: Server, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, reason="Boom")

    base = await server.start(broken)
    key = "very secret/key"
    td = secured_td(base, {"k": {"scheme": "apikey", "in": "query", "name": "key"}}, "k")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(WotResponseError, match="HTTP 500 Boom") as err:
        await WotClient(session, td, credentials=Credentials(api_key=key)).read_property("p")
    message = str(err.value)
    assert "key=***" in message
    assert "secret" not in message
    assert "secret" not in caplog.text
    # A connection error (aiohttp's own message) is redacted too.
    td = parse_td(
        {
            "title": "T",
            "securityDefinitions": {"k": {"scheme": "apikey", "in": "query", "name": "key"}},
            "security": "k",
            "properties": {"p": {"forms": [{"href": "http://127.0.0.1:9/p"}]}},
        }
    )
    with pytest.raises(WotConnectionError) as conn_err:
        await WotClient(session, td, credentials=Credentials(api_key=key)).read_property("p")
    assert "secret" not in str(conn_err.value)
    # A key placed in the path through a URI variable is hidden there too.
    td = parse_td(
        {
            "title": "T",
            "securityDefinitions": {"k": {"scheme": "apikey", "in": "uri", "name": "key"}},
            "security": "k",
            "properties": {"p": {"forms": [{"href": "/k/{key}/p"}]}},
        },
        source_url=f"{base}/td",
    )
    with pytest.raises(WotResponseError) as path_err:
        await WotClient(session, td, credentials=Credentials(api_key=key)).read_property("p")
    assert "/k/***/p: HTTP 500" in str(path_err.value)
    assert "secret" not in str(path_err.value)
    # A short key is hidden in the URL without mangling the rest of the message.
    with pytest.raises(WotResponseError) as short_err:
        await WotClient(session, td, credentials=Credentials(api_key="o")).read_property("p")
    assert str(short_err.value) == f"GET {base}/k/***/p: HTTP 500 Boom"


def _digest_handler(
    username: str, password: str, realm: str = "thing"
) -> tuple[Handler, list[str]]:
    """A server that demands RFC 7616 digest authentication (MD5, qop=auth) and checks it."""
    nonce = secrets.token_hex(16)
    authorizations: list[str] = []

    def h(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    async def handle(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if header.startswith("Digest "):
            authorizations.append(header)
            fields = {
                k.strip(): v.strip().strip('"')
                for k, v in (part.split("=", 1) for part in header[7:].split(","))
            }
            ha1 = h(f"{username}:{realm}:{password}")
            ha2 = h(f"{request.method}:{fields['uri']}")
            expected = h(
                f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}"
            )
            if (
                fields.get("username") == username
                and fields.get("nonce") == nonce
                and fields.get("response") == expected
                and fields.get("uri") == request.path_qs
            ):
                return web.json_response(7)
        challenge = f'Digest realm="{realm}", nonce="{nonce}", qop="auth", algorithm=MD5'
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    return handle, authorizations


async def test_digest(server: Server, session: aiohttp.ClientSession) -> None:
    handler, authorizations = _digest_handler("dora", "pa55")
    base = await server.start(handler)
    td = secured_td(base, {"d": {"scheme": "digest"}}, "d")
    client = WotClient(session, td, credentials=Credentials(username="dora", password="pa55"))
    assert await client.read_property("p") == 7
    assert await client.read_property("p") == 7
    assert len(authorizations) >= 2
    wrong = WotClient(session, td, credentials=Credentials(username="dora", password="nope"))
    with pytest.raises(WotAuthError, match="refused the credentials"):
        await wrong.read_property("p")


async def test_combo_one_of_picks_the_branch_with_credentials(
    server: Server, session: aiohttp.ClientSession
) -> None:
    seen: list[web.Request] = []
    base = await server.start(checking(lambda r: True, seen))
    definitions = {
        "t": {"scheme": "bearer"},
        "b": {"scheme": "basic"},
        "either": {"scheme": "combo", "oneOf": ["t", "b"]},
    }
    td = secured_td(base, definitions, "either")
    await WotClient(
        session, td, credentials=Credentials(username="ann", password="s3cret")
    ).read_property("p")
    await WotClient(session, td, credentials=Credentials(token="tt")).read_property("p")
    assert [r.headers.get("Authorization") for r in seen] == [BASIC_OK, "Bearer tt"]
    with pytest.raises(WotAuthError, match=r"'either' \(oneOf\) cannot be satisfied"):
        await WotClient(session, td).read_property("p")
    # A nosec branch makes the credentials optional.
    definitions["n"] = {"scheme": "nosec"}
    definitions["maybe"] = {"scheme": "combo", "oneOf": ["t", "n"]}
    await WotClient(session, secured_td(base, definitions, "maybe")).read_property("p")
    assert "Authorization" not in seen[-1].headers


async def test_combo_all_of_and_form_level_security(
    server: Server, session: aiohttp.ClientSession
) -> None:
    seen: list[web.Request] = []
    base = await server.start(
        checking(
            lambda r: (
                r.path == "/open"
                or (r.headers.get("Authorization") == BASIC_OK and r.headers.get("X-Key") == "kk")
            ),
            seen,
        )
    )
    td = parse_td(
        {
            "title": "T",
            "securityDefinitions": {
                "b": {"scheme": "basic"},
                "k": {"scheme": "apikey", "in": "header", "name": "X-Key"},
                "both": {"scheme": "combo", "allOf": ["b", "k"]},
                "n": {"scheme": "nosec"},
            },
            "security": "both",
            "properties": {
                "p": {"forms": [{"href": "/p"}]},
                "open": {"forms": [{"href": "/open", "security": "n"}]},
            },
        },
        source_url=f"{base}/td",
    )
    creds = Credentials(username="ann", password="s3cret", api_key="kk")
    assert await WotClient(session, td, credentials=creds).read_property("p") == 42
    # The form-level nosec replaces the Thing-level combo: no credentials needed, none sent.
    assert await WotClient(session, td).read_property("open") == 42
    assert "Authorization" not in seen[-1].headers


async def test_fetch_with_credentials(server: Server, session: aiohttp.ClientSession) -> None:
    td_doc = {"title": "T", "properties": {"p": {"forms": [{"href": "/p"}]}}}

    async def handle(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") not in (BASIC_OK, "Bearer tok"):
            return web.Response(status=401)
        return web.json_response(td_doc)

    base = await server.start(handle)
    td = await fetch_thing_description(
        session, f"{base}/td", credentials=Credentials(username="ann", password="s3cret")
    )
    assert td.title == "T"
    assert await fetch_json(session, f"{base}/x", credentials=Credentials(token="tok")) == td_doc
    with pytest.raises(WotAuthError, match="HTTP 401"):
        await fetch_thing_description(session, f"{base}/td")
    with pytest.raises(WotAuthError, match="refused the credentials"):
        await fetch_json(session, f"{base}/x", credentials=Credentials(token="bad"))


def test_credentials_repr_hides_secrets() -> None:
    text = repr(Credentials(username="ann", password="pw-123", token="tok-456", api_key="key-789"))
    assert "ann" in text
    for secret in ("pw-123", "tok-456", "key-789"):
        assert secret not in text


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "thing")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_verified_unless_turned_off(
    server: Server, session: aiohttp.ClientSession, tls_files: tuple[Path, Path]
) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    base = await server.start(checking(lambda r: True), ssl_context=context)
    with pytest.raises(WotConnectionError, match="certificate"):
        await fetch_json(session, f"{base}/p")
    assert await fetch_json(session, f"{base}/p", ssl=False) == 42
    td = secured_td(base, {"n": {"scheme": "nosec"}}, "n")
    with pytest.raises(WotConnectionError, match="certificate"):
        await WotClient(session, td).read_property("p")
    assert await WotClient(session, td, ssl=False).read_property("p") == 42


async def test_scheme_definition_errors(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    def client(
        definitions: dict[str, Any],
        security: str,
        form_security: str | None = None,
        creds: Credentials | None = None,
    ) -> WotClient:
        form: dict[str, Any] = {"href": "http://127.0.0.1:9/p"}
        if form_security is not None:
            form["security"] = form_security
        td = parse_td(
            {
                "title": "T",
                "securityDefinitions": definitions,
                "security": security,
                "properties": {"p": {"forms": [form]}},
            }
        )
        return WotClient(session, td, credentials=creds)

    nosec = {"n": {"scheme": "nosec"}}
    with pytest.raises(WotValidationError, match="undefined security definition 'ghost'"):
        await client(nosec, "n", "ghost").read_property("p")
    loop = {"a": {"scheme": "combo", "oneOf": ["b"]}, "b": {"scheme": "combo", "oneOf": ["a"]}}
    with pytest.raises(WotValidationError, match="combo nested too deeply"):
        await client(loop, "a").read_property("p")
    body = {"k": {"scheme": "apikey", "in": "body", "name": "key"}}
    with pytest.raises(WotAuthError, match="puts its credential in 'body', which is not supported"):
        await client(body, "k", creds=Credentials(api_key="x")).read_property("p")
    colon = Credentials(username="a:b", password="p")
    with pytest.raises(WotAuthError, match="must not contain ':'"):
        await client({"b": {"scheme": "basic"}}, "b", creds=colon).read_property("p")
    with pytest.raises(WotAuthError, match="must not contain ':'"):
        await fetch_json(session, "http://127.0.0.1:9/x", credentials=colon)
    # Credentials with nothing usable for a request without a TD send nothing.
    with pytest.raises(WotConnectionError):
        await fetch_json(session, "http://127.0.0.1:9/x", credentials=Credentials(api_key="k"))


async def test_a_password_in_the_url_never_reaches_an_error_message(socket_enabled: None) -> None:
    """``http://user:secret@host/td``: the TD request fails, and the message hides the secret."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    async with aiohttp.ClientSession() as session:
        with pytest.raises(WotError) as err:
            await fetch_thing_description(session, f"http://admin:s3cretpass@127.0.0.1:{port}/td")
    assert "s3cretpass" not in str(err.value)
    assert f"admin:***@127.0.0.1:{port}/td" in str(err.value)
    td = parse_td(
        {"title": "T", "properties": {"p": {"forms": [{"href": "http://u:pw-in-href@h.test/p"}]}}}
    )
    shown = Authenticator(td, None).redact_url(td.properties["p"].forms[0].target())
    assert shown == "http://u:***@h.test/p"


SECRET_PARAMS = (
    "key", "access_token", "apikey", "token", "api_key", "X-API-Key", "password", "secret",
    "client_secret", "sig", "auth",
)  # fmt: skip


def test_safe_url_masks_secret_query_values() -> None:
    query = "&".join(f"{name}=v{index}hidden" for index, name in enumerate(SECRET_PARAMS))
    shown = safe_url(f"http://ann:pw@h.test:8080/td?page=2&{query}&page=3#top")
    assert "hidden" not in shown
    masked = "&".join(f"{name}=***" for name in SECRET_PARAMS)
    assert shown == f"http://ann:***@h.test:8080/td?page=2&{masked}&page=3#top"
    # An API key scheme's own parameter name, and text that is no URL.
    assert safe_url("http://h.test/td?k=v&x=1", secret_names={"k"}) == "http://h.test/td?k=***&x=1"
    assert safe_url("http://u:pw@[::1/td?x=1", mask="#") == "http://u:#@[::1/td?#"


async def test_secret_query_values_stay_out_of_error_messages(
    server: Server, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """A token in the TD URL, or written into a form's href, is never repeated in errors."""

    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, reason="Boom")

    base = await server.start(broken)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(WotResponseError) as fetch_err:
        await fetch_thing_description(session, f"{base}/td?access_token=tok-fetch&page=1")
    assert str(fetch_err.value) == f"GET {base}/td?access_token=***&page=1: HTTP 500 Boom"
    with pytest.raises(WotConnectionError) as conn_err:
        await fetch_json(session, "http://127.0.0.1:9/td?key=tok-refused")
    assert "http://127.0.0.1:9/td?key=***" in str(conn_err.value)
    td = parse_td(
        {
            "title": "T",
            "properties": {"p": {"forms": [{"href": "/p?apikey=tok-href&sig=tok-sig"}]}},
        },
        source_url=f"{base}/td",
    )
    client = WotClient(session, td)
    with pytest.raises(WotResponseError) as read_err:
        await client.read_property("p")
    assert str(read_err.value) == f"GET {base}/p?apikey=***&sig=***: HTTP 500 Boom"
    with pytest.raises(WotError) as explore_err:
        await explore(session, f"{base}/things?token=tok-explore")
    assert "token=***" in str(explore_err.value)
    assert "tok-" not in caplog.text
