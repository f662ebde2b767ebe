"""Credentials and how a Thing's security schemes turn them into request parts.

Implements the schemes of TD 1.1 section 5.3.3 a consumer can satisfy with user-supplied
credentials: ``nosec``, ``auto`` (nothing is sent up front), ``basic``, ``digest`` (through
:class:`aiohttp.DigestAuthMiddleware`, which answers the server's challenge), ``bearer``,
``apikey`` and ``oauth2`` (only with an access token the user obtained elsewhere, sent as a
bearer token, as WebThings Gateway 2.0 expects), with ``in`` = ``header``, ``query``,
``cookie`` or ``uri``. Combos: ``allOf`` needs every member, ``oneOf`` takes the first
branch whose credentials are present. A form's ``security`` replaces the Thing-level one.

The scheme resolution is hand-written: it is TD-specific (no library models TD security
definitions) and small; the cryptographic part (digest) is aiohttp's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
import re
from urllib.parse import quote, quote_plus

import aiohttp
from yarl import URL

from .errors import WotAuthError, WotValidationError
from .td import SecurityScheme, ThingDescription

MAX_COMBO_DEPTH = 8
REDACTED = "***"
MIN_SCRUB_LENGTH = 6


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the user gave to authenticate with a Thing; secrets stay out of ``repr``."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)

    @property
    def has_login(self) -> bool:
        """True when a user name is set (a password may be empty)."""
        return self.username is not None

    def secrets(self) -> tuple[str, ...]:
        """The secret values, for redaction."""
        return tuple(s for s in (self.password, self.token, self.api_key) if s)


@dataclass(frozen=True, slots=True)
class AppliedAuth:
    """What a request must carry to satisfy a set of security schemes."""

    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    uri_variables: Mapping[str, str] = field(default_factory=dict)
    digest: bool = False


NO_AUTH = AppliedAuth()
NO_CREDENTIALS = Credentials()
_NO_NAMES: frozenset[str] = frozenset()


# Query parameters whose values are secrets, compared without case, "-", "_" and ".":
# ?key=, ?apikey=, ?api_key=, ?X-API-Key=, ?token=, ?access_token=, ?password=, ?sig= ...
_SECRET_NAMES = frozenset(
    {"key", "sig", "signature", "auth", "authorization", "pwd", "passwd", "pass", "credentials"}
)
_SECRET_SUFFIXES = ("token", "secret", "password", "apikey", "accesskey", "secretkey", "sessionid")
_NOT_NAME_CHARS = re.compile(r"[^a-z0-9]")
_USERINFO_PASSWORD = re.compile(r"(//[^/?#@:]*:)[^/?#@]*@")


def is_secret_name(name: str) -> bool:
    """Whether a query parameter named ``name`` is taken to carry a secret."""
    norm = _NOT_NAME_CHARS.sub("", name.lower())
    return norm in _SECRET_NAMES or norm.endswith(_SECRET_SUFFIXES)


def safe_url(url: URL | str, mask: str = REDACTED, secret_names: Collection[str] = ()) -> str:
    """``url`` as text for messages, logs and diagnostics, with its secrets masked.

    Masks the password of the user info and the value of each query parameter that carries a
    secret: one :func:`is_secret_name` recognises (``key``, ``token``, ``access_token``,
    ``apikey``, ``api_key``, ``password``, ``secret``, ``sig``, ``auth`` ...) or one named in
    ``secret_names`` (an API key scheme's own parameter). Text that is no URL is cut at its
    query, and any user-info password in it masked.
    """
    try:
        parsed = URL(url)
        if parsed.password:
            parsed = parsed.with_password(mask)
        query = parsed.query
        if any(is_secret_name(k) or k in secret_names for k in query):
            parsed = parsed.with_query(
                [
                    (k, mask if is_secret_name(k) or k in secret_names else v)
                    for k, v in query.items()
                ]
            )
        return str(parsed)
    except ValueError:
        head, sep, _rest = str(url).partition("?")
        head = _USERINFO_PASSWORD.sub(lambda m: f"{m.group(1)}{mask}@", head, count=1)
        return f"{head}?{mask}" if sep else head


def _check_login(credentials: Credentials, what: str) -> None:
    if ":" in (credentials.username or ""):
        raise WotAuthError(f"{what}: the user name must not contain ':'")


def basic_header(credentials: Credentials) -> str:
    """The ``Authorization`` value of HTTP basic authentication."""
    return aiohttp.encode_basic_auth(credentials.username or "", credentials.password or "")


def simple_auth_headers(credentials: Credentials | None) -> dict[str, str]:
    """Headers for a request made without a TD: basic with a user name, else bearer."""
    if credentials is None:
        return {}
    if credentials.has_login:
        _check_login(credentials, "basic authentication")
        return {"Authorization": basic_header(credentials)}
    if credentials.token:
        return {"Authorization": f"Bearer {credentials.token}"}
    return {}


def _encodings(secret: str) -> set[str]:
    """The ways ``secret`` can appear in a URL or a message."""
    query = URL.build(scheme="http", host="h", query={"k": secret}).raw_query_string[2:]
    path = URL.build(scheme="http", host="h", path="/" + secret).raw_path[1:]
    return {secret, quote(secret, safe=""), quote_plus(secret), query, path} - {""}


class Authenticator:
    """Applies one Thing's security definitions with one set of credentials.

    Secrets can only end up in URLs (an API key or token sent in the query or as a URI
    variable); passwords and headers never appear in messages. :meth:`redact_url` hides
    them in a URL, and :meth:`redact` in a foreign error text (long values only: replacing a
    short value everywhere would mangle the text and hint at the secret).
    """

    # Slotted: a directory holds one per Thing, and a __dict__ each is one more object for the
    # garbage collector to walk.
    __slots__ = (
        "_cache",
        "_credentials",
        "_digest",
        "_long_variants",
        "_query_names",
        "_td",
        "_variants",
    )

    def __init__(self, td: ThingDescription, credentials: Credentials | None) -> None:
        """Bind the Thing's definitions to the user's credentials."""
        self._td = td
        self._credentials = credentials or NO_CREDENTIALS
        self._cache: dict[tuple[str, ...] | None, AppliedAuth] = {}
        # Made when first needed: most Things use no digest.
        self._digest: (
            dict[tuple[str, str | None, int | None], aiohttp.DigestAuthMiddleware] | None
        ) = None
        self._query_names = _NO_NAMES
        in_urls = [s for s in (self._credentials.token, self._credentials.api_key) if s]
        variants = {v for s in in_urls for v in _encodings(s)}
        # Longest first, so that a secret containing another is replaced whole.
        self._variants = tuple(sorted(variants, key=len, reverse=True))
        self._long_variants = tuple(v for v in self._variants if len(v) >= MIN_SCRUB_LENGTH)

    def redact_url(self, url: URL) -> str:
        """``url`` as text, with credentials in its query, path and user info replaced by ``***``."""
        if self._variants:
            path = url.raw_path
            for variant in self._variants:
                path = path.replace(variant, REDACTED)
            url = url.with_path(path, encoded=True, keep_query=True, keep_fragment=True)
        return safe_url(url, secret_names=self._query_names)

    def redact(self, text: str) -> str:
        """``text`` (e.g. a library's error message) with long secret values replaced."""
        for variant in self._long_variants:
            text = text.replace(variant, REDACTED)
        return text

    def for_security(self, names: tuple[str, ...] | None) -> AppliedAuth:
        """What to send for a form whose ``security`` is ``names`` (``None``: Thing-level).

        Raises :class:`WotAuthError` naming the scheme and what it needs when the credentials
        cannot satisfy it, and :class:`WotValidationError` for an undefined scheme name.
        """
        if names in self._cache:
            return self._cache[names]
        schemes = self._resolve(self._td.security if names is None else names, 0)
        applied = self._apply(schemes)
        self._cache[names] = applied
        return applied

    def middlewares(
        self, applied: AppliedAuth, url: URL
    ) -> tuple[aiohttp.DigestAuthMiddleware, ...]:
        """The client middlewares a request to ``url`` needs (digest, one per origin)."""
        if not applied.digest:
            return ()
        origin = (url.scheme, url.host, url.port)
        if self._digest is None:
            self._digest = {}
        middleware = self._digest.get(origin)
        if middleware is None:
            middleware = aiohttp.DigestAuthMiddleware(
                self._credentials.username or "", self._credentials.password or ""
            )
            self._digest[origin] = middleware
        return (middleware,)

    # ------------------------------------------------------------------ resolution

    def _definition(self, name: str) -> SecurityScheme:
        scheme = self._td.security_definitions.get(name)
        if scheme is None:
            raise WotValidationError("security", f"undefined security definition {name!r}")
        return scheme

    def _resolve(self, names: tuple[str, ...], depth: int) -> list[tuple[str, SecurityScheme]]:
        """The leaf schemes to apply for ``names`` (all of them: an array means AND)."""
        out: list[tuple[str, SecurityScheme]] = []
        for name in names:
            out += self._resolve_one(name, depth)
        return out

    def _resolve_one(self, name: str, depth: int) -> list[tuple[str, SecurityScheme]]:
        if depth > MAX_COMBO_DEPTH:
            raise WotValidationError(f"$.securityDefinitions.{name}", "combo nested too deeply")
        scheme = self._definition(name)
        if scheme.scheme != "combo":
            self._check_credentials(name, scheme)
            return [(name, scheme)]
        if scheme.all_of:
            return self._resolve(scheme.all_of, depth + 1)
        errors: list[WotAuthError] = []
        for branch in scheme.one_of:
            try:
                return self._resolve_one(branch, depth + 1)
            except WotAuthError as err:
                errors.append(err)
        if not errors:
            raise WotValidationError(f"$.securityDefinitions.{name}", "combo without members")
        raise WotAuthError(
            f"security scheme {name!r} (oneOf) cannot be satisfied: "
            + "; ".join(str(err) for err in errors)
        )

    def _check_credentials(self, name: str, scheme: SecurityScheme) -> None:
        creds = self._credentials
        kind = scheme.scheme
        if kind in ("nosec", "auto"):
            return
        if kind in ("basic", "digest"):
            if not creds.has_login or creds.password is None:
                raise WotAuthError(
                    f"security scheme {name!r} ({kind}) needs a user name and a password"
                )
            _check_login(creds, f"security scheme {name!r} ({kind})")
            return
        if kind in ("bearer", "oauth2"):
            if not creds.token:
                raise WotAuthError(f"security scheme {name!r} ({kind}) needs an access token")
            return
        if kind == "apikey":
            if not creds.api_key:
                raise WotAuthError(f"security scheme {name!r} (apikey) needs an API key")
            return
        raise WotAuthError(
            f"security scheme {name!r} ({kind}) is not supported; "
            "supported are nosec, basic, digest, bearer, apikey and oauth2 with a token"
        )

    # ------------------------------------------------------------------ application

    def _apply(self, schemes: list[tuple[str, SecurityScheme]]) -> AppliedAuth:
        headers: dict[str, str] = {}
        query: dict[str, str] = {}
        variables: dict[str, str] = {}
        cookies: list[str] = []
        digest = False
        creds = self._credentials
        for name, scheme in schemes:
            kind = scheme.scheme
            if kind in ("nosec", "auto"):
                continue
            if kind == "digest":
                digest = True
                continue
            if kind == "basic":
                header = "Proxy-Authorization" if scheme.proxy else (scheme.name or "Authorization")
                headers[header] = basic_header(creds)
                continue
            if kind == "apikey":
                value = creds.api_key or ""
                location = scheme.location or "query"
                default_name = "X-API-Key" if location == "header" else "api_key"
            else:  # bearer, oauth2
                value = creds.token or ""
                location = scheme.location or "header"
                default_name = "Authorization" if location == "header" else "access_token"
                if location == "header":
                    value = f"Bearer {value}"
            param = scheme.name or default_name
            if location == "header":
                headers[param] = value
            elif location == "query":
                query[param] = value
            elif location == "cookie":
                cookies.append(f"{param}={value}")
            elif location == "uri":
                variables[param] = value
            else:
                raise WotAuthError(
                    f"security scheme {name!r} ({kind}) puts its credential in "
                    f"{location!r}, which is not supported"
                )
        if cookies:
            headers["Cookie"] = "; ".join(cookies)
        if not (headers or query or variables or digest):
            return NO_AUTH  # shared by every Thing that sends nothing (nosec)
        if query:
            self._query_names = self._query_names | frozenset(query)
        return AppliedAuth(headers=headers, query=query, uri_variables=variables, digest=digest)
