"""Finding Things: DNS-SD advertisements, and exploring directories and multi-Thing servers.

Two phases, as W3C WoT Discovery (REC 2023-12-05, sections 5-7) names them:

- *Introduction*: :func:`service_from_zeroconf` turns one DNS-SD advertisement
  (``_wot._tcp``, its ``_directory._sub`` subtype, or the legacy ``_webthing._tcp``) into a
  :class:`DiscoveredService` with the URL to fetch; :func:`browse` finds advertisements itself
  with python-zeroconf (Home Assistant uses its own zeroconf integration instead).
- *Exploration*: :func:`explore` fetches that URL and returns every Thing Description behind
  it: a single TD, a Thing Description Directory (its TD's ``things`` property, or its
  ``GET /things`` listing, paged by ``Link: <...>; rel="next"`` headers, by the ``next`` member
  of a ``ThingCollection``, or by ``offset``/``limit`` URI variables), a ``ThingLink``, a
  WebThings server whose root is a JSON array of Thing descriptions, or a node-wot servient
  whose root is a JSON array of TD URLs.

Earlier drafts and real directories are read too: the 2020-2021 drafts' ``DirectoryDescription``
and ``LinkDescription`` types and ``retrieveTDs``/``retrieveThings`` listing properties; the
LinkSmart Thing Directory's ``/td`` catalog (``{"@type": "Catalog", "items": [...], "page",
"perPage", "total"}``, which its DNS-SD TXT ``td=/td`` points to); and a directory TD whose
``base`` names a loopback host (domus-tdd-api's default ``http://localhost:5050``) while it was
reached at another address, which means the directory itself.

The exploration is hand-written because no maintained Python library implements WoT
Discovery for a consumer (the W3C reference implementations are in JavaScript and Go); the
HTTP requests go through aiohttp and DNS-SD through python-zeroconf.

Robustness rules: one broken TD is reported in :attr:`ExploreResult.rejected` and never costs
the others; links are followed only to the directory's own host and port unless
``allowed_hosts`` says otherwise (redirects included, checked before each request, the same
:class:`~.transport.HostRule` as a Thing's requests); pages, bytes, Things, redirects
and time are all bounded; a page that comes back twice (a server ignoring ``offset``) ends the
walk. A failure to fetch a page raises instead of returning a partial list, so that a caller
that rescans a directory never mistakes an outage for Things that left. A listing longer than
``max_things`` is not cut silently: the entries past the cap are counted (on the pages the
page and byte budgets allow) into :attr:`ExploreResult.left_out`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
import contextlib
import dataclasses
from dataclasses import dataclass, field
import hashlib
import ipaddress
import json
import re
from typing import Any, Literal

import aiohttp
from yarl import URL
from zeroconf import InterfaceChoice, ServiceInfo, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from .client import DEFAULT_TIMEOUT, Credentials
from .errors import (
    WotAuthError,
    WotConnectionError,
    WotError,
    WotResponseError,
    WotTimeoutError,
    WotValidationError,
)
from .security import safe_url, simple_auth_headers
from .td import MAX_TD_BYTES, ThingDescription, parse_td
from .transport import MAX_REDIRECTS, HostRule, show_host

ServiceKind = Literal["thing", "directory", "webthing"]

WOT_SERVICE = "_wot._tcp.local."
WOT_DIRECTORY_SERVICE = "_directory._sub._wot._tcp.local."
WEBTHING_SERVICE = "_webthing._tcp.local."
SERVICE_TYPES = (WOT_SERVICE, WOT_DIRECTORY_SERVICE, WEBTHING_SERVICE)

WELL_KNOWN_PATH = "/.well-known/wot"
# Used by early Discovery drafts and still served by 2022 plugfest devices.
OLD_WELL_KNOWN_PATH = "/.well-known/wot-thing-description"
# The directory listing, mandatory for a TDD (WoT Discovery 7.3.2.1.5); LinkSmart serves no TD.
THINGS_PATH = "/things"

# @type terms: the REC's, then the 2020-2021 drafts' (2-wd "DirectoryDescription").
DIRECTORY_TYPES = frozenset({"thingdirectory", "directorydescription"})
LINK_TYPES = frozenset({"thinglink", "linkdescription"})
# The listing property of a directory's TD: REC "things", ED 2021 "retrieveThings", 2-wd
# "retrieveTDs".
LISTING_PROPERTIES = ("things", "retrieveThings", "retrieveTDs")

EXPLORE_ACCEPT = "application/td+json, application/ld+json;q=0.9, application/json;q=0.8"
MAX_THINGS = 1000
MAX_PAGES = 50
MAX_TOTAL_BYTES = 32 * 1024 * 1024
# A listing longer than MAX_THINGS (a caller's larger ``max_things``) gets budgets that grow with
# it: the pages it takes at PAGE_SIZE entries a page (and a margin), and bytes per Thing.
BYTES_PER_THING = 16 * 1024
MAX_LINK_DEPTH = 3
PAGE_SIZE = 100
TOTAL_TIMEOUT = 120.0

_SCHEME_TOKEN = re.compile(r"[a-z][a-z0-9+.\-]*")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


# --------------------------------------------------------------------------------------------
# introduction: DNS-SD


@dataclass(frozen=True, slots=True)
class DiscoveredService:
    """One DNS-SD advertisement, resolved to what ThingBridge should fetch.

    ``url`` is the TD URL for a ``thing``, the directory's TD URL for a ``directory``, and the
    server's description URL (a single Thing or an array of them) for a ``webthing``.
    """

    kind: ServiceKind
    name: str
    url: str
    host: str
    port: int


def _txt(properties: Mapping[str, Any], key: str) -> str | None:
    """A TXT value by case-insensitive key, decoded; ``None`` when absent or empty."""
    for name, value in properties.items():
        if str(name).lower() != key:
            continue
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if isinstance(text, str) and text.strip():
            return text.strip()
        return None
    return None


def _base_type(service_type: str) -> str:
    """``_directory._sub._wot._tcp.local.`` -> ``_wot._tcp.local.`` (lower case, final dot)."""
    service_type = service_type.lower().rstrip(".") + "."
    if "._sub." in service_type:
        service_type = service_type.split("._sub.", 1)[1]
    return service_type


def _instance_name(name: str, base_type: str) -> str:
    """``Lamp._wot._tcp.local.`` -> ``Lamp`` (instance names may contain dots)."""
    full = name.rstrip(".")
    suffix = "." + base_type.rstrip(".")
    if full.lower().endswith(suffix):
        return full[: -len(suffix)]
    return full


def _url_host(host: str) -> str:
    """The host as it appears in a URL's authority (IPv6 literals bracketed by yarl)."""
    host = host.strip().strip("[]")
    if not host:
        raise WotValidationError("host", "empty host")
    return host


def service_from_zeroconf(
    service_type: str,
    name: str,
    host: str,
    port: int,
    properties: Mapping[str, str | None],
) -> DiscoveredService:
    """Resolve a DNS-SD advertisement into what to fetch.

    Args:
        service_type: the browsed type, e.g. ``_wot._tcp.local.``,
            ``_directory._sub._wot._tcp.local.`` or ``_webthing._tcp.local.``.
        name: the instance's full name, e.g. ``Lamp._wot._tcp.local.``.
        host: the address it resolved to (IPv4, IPv6 without brackets, or a host name).
        port: the advertised port.
        properties: the TXT record (bytes values are tolerated too).

    TXT keys read: ``td`` (the TD's absolute path, or an absolute URL), else ``path`` (the
    variant used by WebThings and wot-adapter); ``scheme`` (``http`` by default); ``tls=1``
    (meaning ``https`` when there is no ``scheme``); ``type`` (``Thing`` or ``Directory``).
    Without a path, a ``_wot`` service is fetched at ``/.well-known/wot`` and a ``_webthing``
    server at ``/``.

    Raises:
        WotValidationError: the host is empty or the port is out of range.
    """
    base_type = _base_type(service_type)
    instance = _instance_name(name, base_type)
    url_host = _url_host(host)
    if not 0 < port < 65536:
        raise WotValidationError("port", f"{port} is not a TCP port")

    kind: ServiceKind
    if base_type.startswith("_webthing."):
        kind = "webthing"
    elif service_type.lower().startswith("_directory._sub.") or (
        (_txt(properties, "type") or "").lower() == "directory"
    ):
        kind = "directory"
    else:
        kind = "thing"

    scheme = (_txt(properties, "scheme") or "").lower()
    if not _SCHEME_TOKEN.fullmatch(scheme):
        tls = (_txt(properties, "tls") or "").lower()
        scheme = "https" if tls in ("1", "true", "yes") else "http"

    path = _txt(properties, "td") or _txt(properties, "path")
    if path is None:
        path = "/" if kind == "webthing" else WELL_KNOWN_PATH
    origin = URL.build(scheme=scheme, host=url_host, port=port)
    try:
        reference = URL(path)
        if reference.is_absolute():
            url = reference
        else:
            # Built by hand: yarl's join only resolves http-like schemes.
            url = URL(f"{origin}{URL('/').join(reference).raw_path_qs}", encoded=True)
    except ValueError as err:
        raise WotValidationError("txt.td", f"unusable TD path {path!r}") from err
    return DiscoveredService(kind=kind, name=instance, url=str(url), host=url_host, port=port)


def _pick_address(addresses: list[str]) -> str | None:
    """Prefer a global IPv4 address, then any IPv4, then a non-link-local IPv6, then any."""

    def rank(text: str) -> int:
        try:
            addr = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            return 9
        if addr.version == 4:
            return 0 if not addr.is_link_local else 1
        return 2 if not addr.is_link_local else 3

    return min(addresses, key=rank) if addresses else None


async def browse(
    *,
    timeout: float = 3.0,  # noqa: ASYNC109 - how long to listen, not a deadline to wrap
    interfaces: list[str] | None = None,
) -> list[DiscoveredService]:
    """Browse mDNS for Things, directories and WebThings servers for ``timeout`` seconds.

    Args:
        timeout: how long to listen, in seconds.
        interfaces: the IP addresses of the interfaces to use (all interfaces when ``None``).

    Returns the services found, sorted by name; an instance advertised both as a Thing and
    under the ``_directory`` subtype is reported once, as a directory.
    """
    aiozc = AsyncZeroconf(interfaces=interfaces if interfaces is not None else InterfaceChoice.All)
    seen: dict[tuple[str, str], asyncio.Task[DiscoveredService | None]] = {}

    async def resolve(service_type: str, name: str) -> DiscoveredService | None:
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(aiozc.zeroconf, 3000):
            return None
        return service_from_info(service_type, info)

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        key = (service_type, name)
        if state_change is ServiceStateChange.Removed or key in seen:
            return
        seen[key] = asyncio.get_running_loop().create_task(resolve(service_type, name))

    browser = AsyncServiceBrowser(aiozc.zeroconf, list(SERVICE_TYPES), handlers=[on_change])
    try:
        await asyncio.sleep(timeout)
    finally:
        await browser.async_cancel()
        pending = [task for task in seen.values() if not task.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*seen.values(), return_exceptions=True)
        await aiozc.async_close()

    return _merge_services(
        task.result() for task in seen.values() if not task.cancelled() and not task.exception()
    )


def service_from_info(service_type: str, info: ServiceInfo) -> DiscoveredService | None:
    """A service resolved by python-zeroconf, or ``None`` when it cannot be used.

    The address is chosen by :func:`_pick_address`; without one, the advertised host name.
    """
    if info.port is None:
        return None
    host = _pick_address(info.parsed_scoped_addresses()) or (info.server or "").rstrip(".")
    try:
        return service_from_zeroconf(
            service_type, info.name, host, info.port, info.decoded_properties
        )
    except WotValidationError:
        return None


def _merge_services(services: Iterable[DiscoveredService | None]) -> list[DiscoveredService]:
    """One entry per instance (a directory wins over a Thing), sorted by name."""
    found: dict[str, DiscoveredService] = {}
    for service in services:
        if service is None:
            continue
        key = f"{service.name}@{service.host}:{service.port}".lower()
        if key not in found or service.kind == "directory":
            found[key] = service
    return sorted(found.values(), key=lambda s: (s.name.lower(), s.url))


# --------------------------------------------------------------------------------------------
# exploration


@dataclass
class ExploreResult:
    """What an exploration found.

    ``title`` is the directory's (or the single Thing's) title when there is one;
    ``rejected`` pairs a source (a URL, or ``page-url#index`` for an entry of a listing) with
    why it was not used: a TD that failed validation, a link that was not followed, or a
    limit that stopped the walk. ``left_out`` counts the listing's entries past
    ``max_things``, which were not read (at least that many: counting stops where the page
    or byte budget does, or at a page that cannot be fetched).
    """

    title: str | None
    things: list[ThingDescription] = field(default_factory=list)
    rejected: list[tuple[str, WotError]] = field(default_factory=list)
    left_out: int = 0

    @property
    def truncated(self) -> bool:
        """Whether entries of the listing were left out for ``max_things``."""
        return self.left_out > 0


def _terms(value: Any) -> set[str]:
    """``@type``/``@context`` values as lower-case terms, prefixes and IRIs stripped."""
    values = value if isinstance(value, list) else [value]
    return {re.split(r"[#/:]", v.rstrip("/#"))[-1].lower() for v in values if isinstance(v, str)}


def _context_iris(value: Any) -> set[str]:
    values = value if isinstance(value, list) else [value]
    out: set[str] = set()
    for item in values:
        if isinstance(item, str):
            out.add(item)
        elif isinstance(item, dict):
            out.update(v for v in item.values() if isinstance(v, str))
    return out


def is_directory(raw: Mapping[str, Any]) -> bool:
    """Whether a decoded TD is a Thing Description Directory's own TD rather than a Thing's.

    True for ``@type`` ``ThingDirectory`` (or the draft ``DirectoryDescription``; any prefix),
    and for a TD with a listing property (``things``, or the drafts' ``retrieveThings`` or
    ``retrieveTDs``) that uses the Discovery context or links (``rel: type``) to a directory
    model.
    """
    if _terms(raw.get("@type")) & DIRECTORY_TYPES:
        return True
    properties = raw.get("properties")
    if not isinstance(properties, dict) or not any(
        isinstance(properties.get(name), dict) for name in LISTING_PROPERTIES
    ):
        return False
    # A TD instantiated from the Discovery Thing Model, or one using the Discovery context.
    if any(
        "wot-discovery" in i or i.endswith("/wot/discovery")
        for i in _context_iris(raw.get("@context"))
    ):
        return True
    links = raw.get("links")
    return isinstance(links, list) and any(
        isinstance(link, dict)
        and link.get("rel") == "type"
        and "directory" in str(link.get("href", "")).lower()
        for link in links
    )


def _thing_link_target(raw: Mapping[str, Any]) -> str | None:
    """The ``describedby`` href of a ``ThingLink`` (``""`` when it has none), else ``None``."""
    if not _terms(raw.get("@type")) & LINK_TYPES:
        return None
    links = raw.get("links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "describedby":
            href = link.get("href")
            if isinstance(href, str) and href:
                return href
    return ""


def _no_describedby() -> WotValidationError:
    return WotValidationError("$.links", "a ThingLink without a describedby link")


def _bad_describedby(target: str) -> WotValidationError:
    return WotValidationError("$.links", f"unusable describedby link {target!r}")


def _is_loopback(host: str | None) -> bool:
    """``localhost`` (and ``*.localhost``), 127.0.0.0/8, ``::1`` and the unspecified addresses."""
    host = (host or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        addr = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return addr.is_loopback or addr.is_unspecified


def _on_origin(url: URL, origin: URL) -> URL:
    """``url``'s path and query on ``origin``'s scheme, host and port.

    Put after the origin, not joined to it: a path starting with ``//`` (``http://a//b:1/x``)
    stays a path rather than naming another host and port.
    """
    return URL(f"{origin.origin()}{url.raw_path_qs or '/'}", encoded=True)


def _self_reference(url: URL, reached: URL) -> URL:
    """A URL a server gave for itself on a loopback host, moved to where it was reached.

    domus-tdd-api's TD says ``base: http://localhost:5050`` unless its operator configured
    ``TDD_TD_REPO_URL``; reached at ``http://192.168.1.5:5050/``, that ``localhost`` is the
    directory itself. A loopback URL met while exploring a loopback host is left alone.
    """
    if url.host != reached.host and _is_loopback(url.host) and not _is_loopback(reached.host):
        return _on_origin(url, reached)
    return url


def _absolute_http(entry: str) -> URL | None:
    """A listing entry that is an absolute http(s) URL (node-wot's root lists TD URLs)."""
    try:
        url = URL(entry.strip())
    except ValueError:
        return None
    return url if url.scheme in ("http", "https") and url.host else None


@dataclass(slots=True)
class _Page:
    body: Any
    url: URL
    next: URL | None
    digest: str
    size: int


class _Explorer:
    """State of one exploration: budgets, visited pages, results."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        root: URL,
        *,
        credentials: Credentials | None,
        allowed_hosts: frozenset[str] | None,
        max_things: int,
        max_pages: int,
        max_bytes: int,
        request_timeout: float,
        ssl: bool,
    ) -> None:
        self.session = session
        self.root = root
        self.auth = simple_auth_headers(credentials)
        self.hosts = HostRule.of(root, allowed_hosts)
        self.max_things = max_things
        self.max_pages = max_pages
        self.bytes_left = max_bytes
        self.request_timeout = request_timeout
        self.ssl = ssl
        self.pages = 0
        self.entries = 0
        self.seen_digests: set[str] = set()
        self.seen_ids: set[str] = set()
        self.seen_urls: set[URL] = set()
        self._page_label: tuple[URL, str] | None = None
        self.capped = False
        self.result = ExploreResult(title=None)

    # ---------------------------------------------------------------- budgets and links

    def host_allowed(self, url: URL) -> bool:
        return self.hosts.allows(url)

    def headers_for(self, url: URL) -> dict[str, str]:
        """Credentials go to the explored host and port and to hosts allowed by name, not ``*``."""
        return {"Accept": EXPLORE_ACCEPT, **(self.auth if self.hosts.named(url) else {})}

    def refuse(self, url: URL, where: str) -> None:
        self.result.rejected.append(
            (
                safe_url(url),
                WotValidationError(
                    where,
                    f"link to another host {show_host(url)!r} not followed "
                    "(allow it with allowed_hosts)",
                ),
            )
        )

    def stop(self, source: URL, reason: str) -> None:
        self.result.rejected.append((safe_url(source), WotResponseError(reason)))

    @property
    def full(self) -> bool:
        return self.entries >= self.max_things

    # ---------------------------------------------------------------- HTTP

    async def get(self, url: URL) -> _Page:
        """GET one document, following same-host redirects; every limit applies."""
        if self.pages >= self.max_pages:
            raise WotResponseError(f"{safe_url(url)}: more than {self.max_pages} pages (max_pages)")
        self.pages += 1
        for _ in range(MAX_REDIRECTS + 1):
            if url.scheme not in ("http", "https") or not url.host:
                raise WotValidationError(safe_url(url), "not an http(s) URL")
            if not self.host_allowed(url):
                raise WotValidationError(
                    safe_url(url), f"link to another host {show_host(url)!r} not followed"
                )
            try:
                async with asyncio.timeout(self.request_timeout):
                    async with self.session.get(
                        url, headers=self.headers_for(url), allow_redirects=False, ssl=self.ssl
                    ) as response:
                        if response.status in _REDIRECTS and "Location" in response.headers:
                            url = url.join(URL(response.headers["Location"]))
                            continue
                        body = await self.read(response)
                        next_url = self.next_link(response)
            except TimeoutError as err:
                raise WotTimeoutError(
                    f"GET {safe_url(url)}: no answer within {self.request_timeout:g} s"
                ) from err
            except aiohttp.ClientError as err:
                raise WotConnectionError(f"GET {safe_url(url)}: {err}") from err
            except ValueError as err:  # a Location or Link yarl cannot parse
                raise WotResponseError(f"GET {safe_url(url)}: unusable link ({err})") from err
            try:
                decoded = json.loads(body)
            except (ValueError, RecursionError) as err:  # not JSON, or nested too deep
                raise WotResponseError(
                    f"GET {safe_url(url)}: body is not valid JSON ({err})"
                ) from err
            digest = hashlib.sha256(body).hexdigest()
            return _Page(decoded, url, next_url, digest, len(body))
        raise WotResponseError(f"GET {safe_url(url)}: more than {MAX_REDIRECTS} redirects")

    async def read(self, response: aiohttp.ClientResponse) -> bytes:
        if response.status in (401, 403):
            raise WotAuthError(
                f"GET {safe_url(response.url)}: HTTP {response.status}: credentials refused or needed",
                response.status,
            )
        if response.status >= 400:
            raise WotResponseError(
                f"GET {safe_url(response.url)}: HTTP {response.status} {response.reason or ''}".rstrip(),
                response.status,
            )
        limit = self.bytes_left
        too_big = (
            f"GET {safe_url(response.url)}: the exploration exceeds its byte budget (max_bytes)"
        )
        if response.content_length is not None and response.content_length > limit:
            raise WotResponseError(too_big, response.status)
        body = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > limit:
                raise WotResponseError(too_big, response.status)
        self.bytes_left -= len(body)
        return bytes(body)

    @staticmethod
    def next_link(response: aiohttp.ClientResponse) -> URL | None:
        for link in response.links.values():
            if "next" in str(link.get("rel", "")).lower().split():
                target = link.get("url")
                return target if isinstance(target, URL) else None
        return None

    # ---------------------------------------------------------------- documents

    async def run(self) -> ExploreResult:
        page = await self.get_entry()
        await self.document(page, depth=0)
        return self.result

    async def get_entry(self) -> _Page:
        """The entry URL; a bare origin that is not JSON falls back to other paths.

        Those are the well-known paths, then a directory's ``/things`` listing (LinkSmart's
        root is an HTML page and it serves no TD of its own).
        """
        try:
            return await self.get(self.root)
        except WotAuthError:
            raise
        except WotResponseError as err:
            if self.root.path not in ("", "/") or self.root.query_string:
                raise
            for path in (WELL_KNOWN_PATH, OLD_WELL_KNOWN_PATH, THINGS_PATH):
                try:
                    return await self.get(self.root.with_path(path))
                except WotAuthError:
                    raise
                except WotResponseError:
                    continue
            raise err from None

    async def document(self, page: _Page, depth: int) -> None:
        body = page.body
        if isinstance(body, list) or _is_collection(body):
            await self.listing(page, client_paging=None)
            return
        if isinstance(body, dict) and (target := _thing_link_target(body)) is not None:
            if not target:
                self.result.rejected.append((safe_url(page.url), _no_describedby()))
                return
            try:
                linked = page.url.join(URL(target))
            except ValueError:
                self.result.rejected.append((safe_url(page.url), _bad_describedby(target)))
                return
            await self.follow(linked, "$.links[describedby]", depth)
            return
        if isinstance(body, dict) and is_directory(body):
            await self.directory(page, depth)
            return
        if self.result.title is None and page.size <= MAX_TD_BYTES:
            title = body.get("title") if isinstance(body, dict) else None
            self.result.title = title if isinstance(title, str) else None
        self.add_page(page)

    async def follow(self, url: URL, where: str, depth: int) -> None:
        if depth >= MAX_LINK_DEPTH:
            self.stop(url, f"links nested deeper than {MAX_LINK_DEPTH} levels")
            return
        if not self.host_allowed(url):
            self.refuse(url, where)
            return
        await self.document(await self.get(url), depth + 1)

    async def directory(self, page: _Page, depth: int) -> None:
        """A directory's TD: read its listing property (paged by offset/limit if offered).

        The property is ``things`` (REC), else the drafts' ``retrieveThings`` or
        ``retrieveTDs``. A listing URL on a loopback host is the directory itself
        (:func:`_self_reference`).
        """
        try:
            td = parse_td(page.body, source_url=page.url)
        except WotValidationError as err:
            self.result.rejected.append((safe_url(page.url), err))
            return
        if self.result.title is None:
            self.result.title = td.title
        name, prop = next(
            ((n, td.properties[n]) for n in LISTING_PROPERTIES if n in td.properties),
            ("things", None),
        )
        form = prop.form_for("readproperty") if prop is not None else None
        if prop is None or form is None:
            self.result.rejected.append(
                (
                    safe_url(page.url),
                    WotValidationError(f"$.properties.{name}", "no readproperty form"),
                )
            )
            return
        variables = {**td.uri_variables, **prop.uri_variables}
        paged = form.is_template and "offset" in variables and "limit" in variables
        first = _self_reference(form.target(_page_variables(0) if paged else {}), page.url)
        if not self.host_allowed(first):
            self.refuse(first, f"$.properties.{name}.forms")
            return

        def expand(offset: int) -> URL:
            return _self_reference(form.target(_page_variables(offset)), page.url)

        listing = await self.get(first)
        await self.listing(listing, client_paging=expand if paged else None, reached=page.url)

    async def listing(
        self,
        page: _Page,
        client_paging: Callable[[int], URL] | None,
        reached: URL | None = None,
    ) -> None:
        """Entries of a listing page and of the pages after it.

        ``reached`` is where the directory's own TD was fetched: next-page links to a loopback
        host are moved there, as the listing URL was.
        """
        offset = 0
        while page.digest not in self.seen_digests:
            self.seen_digests.add(page.digest)
            entries, body_next = _entries(page.body)
            for index, entry in enumerate(entries):
                if self.full:
                    self.over_cap(page.url, len(entries) - index)
                    break
                await self.add_entry(entry, page.url, index)
            try:
                next_url = page.next or (page.url.join(URL(body_next)) if body_next else None)
            except ValueError:
                self.stop(page.url, f"unusable next-page link {body_next!r}")
                return
            offset += len(entries)
            if next_url is None:
                next_url = _catalog_next(page.body, page.url, len(entries))
            if next_url is None and client_paging is not None and len(entries) >= PAGE_SIZE:
                next_url = client_paging(offset)
            if next_url is None:
                return
            if reached is not None:
                next_url = _self_reference(next_url, reached)
            counting = self.full
            if counting:
                # Past the cap, the pages are read only to count what is left out; the walk
                # reports no more problems and ends quietly at the first one.
                self.over_cap(page.url, 0)
                if not self.host_allowed(next_url) or self.pages >= self.max_pages:
                    return
                try:
                    page = await self.get(next_url)
                except WotError:
                    return
                continue
            if not self.host_allowed(next_url):
                self.refuse(next_url, "next page")
                return
            if self.pages >= self.max_pages:
                self.stop(next_url, f"stopped after {self.max_pages} pages (max_pages)")
                return
            page = await self.get(next_url)
        # A page seen before: the server repeats itself (e.g. it ignores offset).

    def over_cap(self, page_url: URL, count: int) -> None:
        """``count`` entries of a listing page left out for ``max_things`` (said once)."""
        if not self.capped:
            self.capped = True
            self.stop(page_url, f"stopped after {self.max_things} Things (max_things)")
        self.result.left_out += count

    async def add_entry(self, entry: Any, page_url: URL, index: int) -> None:
        """One entry of a listing: a TD, a ThingLink to follow, or a directory to leave out."""
        self.entries += 1
        label = f"{self.page_label(page_url)}#{index}"
        if isinstance(entry, dict) and (target := _thing_link_target(entry)) is not None:
            await self.linked_entry(target, page_url, label)
            return
        if isinstance(entry, str) and (url := _absolute_http(entry)) is not None:
            await self.listed_url(url, page_url, label)
            return
        if isinstance(entry, dict) and is_directory(entry):
            # A directory may list its own TD; it is not a Thing to add.
            self.result.rejected.append(
                (label, WotValidationError("$.@type", "a directory's TD, not a Thing: left out"))
            )
            return
        href = entry.get("href") if isinstance(entry, dict) else None
        source = page_url.with_fragment(str(index))
        if isinstance(href, str) and href:
            # WebThings servers give each description the URL it lives at.
            with contextlib.suppress(ValueError):
                source = page_url.join(URL(href))
                label = safe_url(source)
        self.add(entry, source, label)

    async def linked_entry(self, target: str, page_url: URL, label: str) -> None:
        """Follow a listed ``ThingLink``; a failure costs that entry only."""
        if not target:
            self.result.rejected.append((label, _no_describedby()))
            return
        try:
            url = page_url.join(URL(target))
        except ValueError:
            self.result.rejected.append((label, _bad_describedby(target)))
            return
        if not self.host_allowed(url):
            self.refuse(url, label)
            return
        if url in self.seen_urls:
            return
        self.seen_urls.add(url)
        try:
            linked = await self.get(url)
        except WotError as err:
            self.result.rejected.append((safe_url(url), err))
            return
        self.add_linked(linked, "a listed ThingLink must lead to a Thing's TD")

    async def listed_url(self, url: URL, page_url: URL, label: str) -> None:
        """A listing entry that is a TD's URL, as node-wot's root lists its Things.

        node-wot lists each Thing once per network address of the servient, so most entries
        name an address other than the one explored. An entry on another host with the
        listing's own scheme and port is read from the listing's host instead (the same
        path there), and each URL is read once. When that fails, the entry is reported as
        the link to another host it is.
        """
        direct = self.host_allowed(url)
        target = url
        if not direct:
            if url.scheme != page_url.scheme or url.port != page_url.port:
                self.refuse(url, label)
                return
            target = _on_origin(url, page_url)
        if target in self.seen_urls:
            return
        self.seen_urls.add(target)
        try:
            linked = await self.get(target)
        except WotError as err:
            if direct:
                self.result.rejected.append((safe_url(url), err))
            else:
                self.refuse(url, label)
            return
        self.add_linked(linked, "a listed TD URL must lead to a Thing's TD")

    def page_label(self, page_url: URL) -> str:
        """A listing page's URL, redacted, for its entries' labels (one page lists many)."""
        if self._page_label is None or self._page_label[0] != page_url:
            self._page_label = (page_url, safe_url(page_url))
        return self._page_label[1]

    def add_linked(self, linked: _Page, why: str) -> None:
        """A document reached from a listing entry: it must be one Thing's TD."""
        if not isinstance(linked.body, dict) or (
            is_directory(linked.body) or _thing_link_target(linked.body) is not None
        ):
            self.result.rejected.append((safe_url(linked.url), WotValidationError("$", why)))
            return
        self.add_page(linked)

    def add_page(self, page: _Page) -> None:
        """A fetched document that is one TD."""
        if page.size > MAX_TD_BYTES:
            self.stop(page.url, f"the Thing Description exceeds {MAX_TD_BYTES} bytes")
            return
        self.add(page.body, page.url, safe_url(page.url))

    def add(self, raw: Any, source: URL, label: str) -> None:
        try:
            td = parse_td(raw, source_url=source)
        except WotValidationError as err:
            self.result.rejected.append((label, err))
            return
        if source.fragment and td.base is not None and td.base.host:
            # A Thing listed by a directory lives at its own base, not at the directory: its
            # host is the origin its requests may go to (the user trusted the directory).
            td = dataclasses.replace(td, source_url=td.base)
        if td.id is not None:
            if td.id in self.seen_ids:
                return
            self.seen_ids.add(td.id)
        self.result.things.append(td)


def _page_variables(offset: int) -> dict[str, str]:
    """URI variables of one page (strings: ``uritemplate`` expands the integer 0 as empty)."""
    return {"offset": str(offset), "limit": str(PAGE_SIZE)}


def _is_catalog(body: Any) -> bool:
    """Whether ``body`` is LinkSmart Thing Directory's paged ``/td`` listing (2020 drafts' era).

    Its shape::

        {"@context": "https://linksmart.eu/thing-directory/context.jsonld", "@type": "Catalog",
         "items": [...], "page": 1, "perPage": 100, "total": 230}
    """
    return (
        isinstance(body, dict)
        and isinstance(body.get("items"), list)
        and "securityDefinitions" not in body
    )


def _is_collection(body: Any) -> bool:
    """A ``ThingCollection`` (``?format=collection``) or a LinkSmart catalog."""
    return (isinstance(body, dict) and isinstance(body.get("members"), list)) or _is_catalog(body)


def _entries(body: list[Any] | dict[str, Any]) -> tuple[list[Any], str | None]:
    """A listing's entries and the ``next`` of a ``ThingCollection`` (``?format=collection``)."""
    if isinstance(body, list):
        return body, None
    if not isinstance(body.get("members"), list):
        return body["items"], None
    following = body.get("next")
    return body["members"], following if isinstance(following, str) and following else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _catalog_next(body: Any, url: URL, count: int) -> URL | None:
    """The next page of a LinkSmart catalog: ``?page=N+1&per_page=M`` while ``N*M < total``."""
    if not _is_catalog(body) or count == 0:
        return None
    number, per_page, total = (_whole(body.get(k)) for k in ("page", "perPage", "total"))
    if number is None or per_page is None or total is None or number < 1 or per_page < 1:
        return None
    if number * per_page >= total:
        return None
    return url.update_query(page=str(number + 1), per_page=str(per_page))


async def explore(
    session: aiohttp.ClientSession,
    url: str | URL,
    *,
    credentials: Credentials | None = None,
    allowed_hosts: frozenset[str] | None = None,
    max_things: int = MAX_THINGS,
    max_pages: int | None = None,
    max_bytes: int | None = None,
    request_timeout: float = DEFAULT_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
    ssl: bool = True,
) -> ExploreResult:
    """Fetch ``url`` and return every Thing Description it leads to.

    Args:
        session: the aiohttp session to use.
        url: a TD, a directory's TD, a directory listing (``/things``), a ``ThingLink``, a
            WebThings server root, or a bare origin (then ``/.well-known/wot`` is tried).
        credentials: sent with every request (HTTP basic, else bearer).
        allowed_hosts: hosts besides ``url``'s own that links may lead to;
            ``frozenset({"*"})`` allows any.
        max_things: entries (valid or not) read before stopping; the entries past it are
            counted in ``left_out``.
        max_pages: documents fetched before stopping; by default :data:`MAX_PAGES`, or
            what ``max_things`` entries take at :data:`PAGE_SIZE` a page (plus 10) if more.
        max_bytes: bytes read in total before stopping; by default :data:`MAX_TOTAL_BYTES`, or
            :data:`BYTES_PER_THING` for each of ``max_things`` if more.
        request_timeout: seconds allowed per request.
        total_timeout: seconds allowed for the whole exploration.
        ssl: verify TLS certificates.

    Raises:
        WotValidationError: ``url`` is not an http(s) URL.
        WotAuthError: a page answered 401/403.
        WotConnectionError: a page could not be fetched, or the exploration timed out.
        WotResponseError: a page answered an HTTP error, was not JSON, or broke a limit
            (a limit reached between pages is reported in ``rejected`` instead).
    """
    try:
        root = URL(str(url))
    except (TypeError, ValueError) as err:
        raise WotValidationError("url", "not a valid URL") from err
    if root.scheme not in ("http", "https") or not root.host:
        raise WotValidationError("url", f"not an http(s) URL: {safe_url(root)!r}")
    if max_pages is None:
        max_pages = max(MAX_PAGES, -(-max_things // PAGE_SIZE) + 10)
    if max_bytes is None:
        max_bytes = max(MAX_TOTAL_BYTES, max_things * BYTES_PER_THING)
    explorer = _Explorer(
        session,
        root,
        credentials=credentials,
        allowed_hosts=allowed_hosts,
        max_things=max_things,
        max_pages=max_pages,
        max_bytes=max_bytes,
        request_timeout=request_timeout,
        ssl=ssl,
    )
    try:
        async with asyncio.timeout(total_timeout):
            return await explorer.run()
    except TimeoutError as err:
        raise WotTimeoutError(
            f"exploring {safe_url(root)} took longer than {total_timeout:g} s"
        ) from err
