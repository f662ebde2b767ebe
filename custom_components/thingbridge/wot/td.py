"""Typed model of a W3C Web of Things Thing Description (TD 1.0 / 1.1).

Hand-written because no maintained Python library parses TDs into a typed model for a
consumer: the W3C tooling (``@thing-description-playground``, node-wot) is JavaScript.

Rules followed (W3C WoT Thing Description 1.1, sections 5.3 and 8):
- ``href`` values are resolved against ``base`` (RFC 3986), or against the URL the TD was
  fetched from when there is no ``base``;
- a form without ``op`` gets the default for its affordance (``readproperty`` and
  ``writeproperty`` for a property, less what readOnly/writeOnly rule out;
  ``invokeaction`` for an action; ``subscribeevent`` and ``unsubscribeevent`` for an event);
- ``contentType`` defaults to ``application/json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from .errors import WotValidationError

MAX_TD_BYTES = 1024 * 1024
ALLOWED_SCHEMES = frozenset({"http", "https", "ws", "wss"})
DEFAULT_CONTENT_TYPE = "application/json"

type JSONObject = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DataSchema:
    """The subset of a WoT data schema that decides how a value is shown and validated."""

    type: str | None = None
    title: str | None = None
    unit: str | None = None
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    read_only: bool = False
    write_only: bool = False


@dataclass(frozen=True, slots=True)
class Form:
    """One way to perform operations on an affordance."""

    href: URL
    op: tuple[str, ...]
    content_type: str = DEFAULT_CONTENT_TYPE
    method: str | None = None
    subprotocol: str | None = None


@dataclass(frozen=True, slots=True)
class PropertyAffordance:
    """A property of a Thing."""

    name: str
    schema: DataSchema
    forms: tuple[Form, ...]
    observable: bool = False
    title: str | None = None
    semantic_types: tuple[str, ...] = ()

    def form_for(self, op: str) -> Form | None:
        """Return the first form offering ``op``."""
        return next((form for form in self.forms if op in form.op), None)


@dataclass(frozen=True, slots=True)
class ThingDescription:
    """A parsed Thing Description."""

    title: str
    id: str | None
    base: URL | None
    properties: dict[str, PropertyAffordance]
    description: str | None = None
    semantic_types: tuple[str, ...] = ()
    raw: JSONObject = field(default_factory=dict, repr=False, compare=False)


def _opt_str(value: Any, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise WotValidationError(path, f"expected a string, got {type(value).__name__}")
    return value


def _opt_number(value: Any, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WotValidationError(path, f"expected a number, got {type(value).__name__}")
    return float(value)


def _str_list(value: Any, path: str) -> tuple[str, ...]:
    """A string or an array of strings (``@type``, ``op``)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise WotValidationError(path, "expected a string or an array of strings")


def _resolve(href: str, base: URL | None, path: str) -> URL:
    try:
        url = URL(href)
    except (TypeError, ValueError) as err:
        raise WotValidationError(path, f"invalid URI reference {href!r}") from err
    if not url.is_absolute():
        if base is None:
            raise WotValidationError(
                path, f"relative href {href!r} and no base to resolve it against"
            )
        url = base.join(url)
    if url.scheme not in ALLOWED_SCHEMES:
        raise WotValidationError(path, f"unsupported URI scheme {url.scheme!r}")
    return url


def parse_schema(raw: JSONObject, path: str) -> DataSchema:
    """Parse the data-schema members of an affordance or schema object."""
    enum = raw.get("enum")
    if enum is not None and not isinstance(enum, list):
        raise WotValidationError(f"{path}.enum", "expected an array")
    return DataSchema(
        type=_opt_str(raw.get("type"), f"{path}.type"),
        title=_opt_str(raw.get("title"), f"{path}.title"),
        unit=_opt_str(raw.get("unit"), f"{path}.unit"),
        enum=tuple(enum) if enum is not None else None,
        minimum=_opt_number(raw.get("minimum"), f"{path}.minimum"),
        maximum=_opt_number(raw.get("maximum"), f"{path}.maximum"),
        read_only=raw.get("readOnly") is True,
        write_only=raw.get("writeOnly") is True,
    )


def parse_forms(
    raw: Any, base: URL | None, default_op: tuple[str, ...], path: str
) -> tuple[Form, ...]:
    """Parse an affordance's ``forms`` array, resolving hrefs and filling defaults."""
    if not isinstance(raw, list) or not raw:
        raise WotValidationError(path, "expected a non-empty array of forms")
    forms: list[Form] = []
    for index, item in enumerate(raw):
        fpath = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise WotValidationError(fpath, "expected an object")
        href = item.get("href")
        if not isinstance(href, str):
            raise WotValidationError(f"{fpath}.href", "missing or not a string")
        forms.append(
            Form(
                href=_resolve(href, base, f"{fpath}.href"),
                op=_str_list(item.get("op"), f"{fpath}.op") or default_op,
                content_type=_opt_str(item.get("contentType"), f"{fpath}.contentType")
                or DEFAULT_CONTENT_TYPE,
                method=_opt_str(item.get("htv:methodName"), f"{fpath}.htv:methodName"),
                subprotocol=_opt_str(item.get("subprotocol"), f"{fpath}.subprotocol"),
            )
        )
    return tuple(forms)


def _property_default_ops(schema: DataSchema) -> tuple[str, ...]:
    if schema.read_only:
        return ("readproperty",)
    if schema.write_only:
        return ("writeproperty",)
    return ("readproperty", "writeproperty")


def parse_td(raw: Any, source_url: str | URL | None = None) -> ThingDescription:
    """Parse a decoded TD document.

    ``source_url`` is where the TD came from; relative hrefs resolve against it when the TD
    has no ``base``. Raises :class:`WotValidationError` naming the member that is wrong.
    """
    if not isinstance(raw, dict):
        raise WotValidationError("$", "a Thing Description must be a JSON object")
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise WotValidationError("$.title", "missing or empty")

    base: URL | None = URL(str(source_url)) if source_url is not None else None
    if (raw_base := _opt_str(raw.get("base"), "$.base")) is not None:
        base = _resolve(raw_base, base, "$.base")

    raw_props = raw.get("properties", {})
    if not isinstance(raw_props, dict):
        raise WotValidationError("$.properties", "expected an object")
    properties: dict[str, PropertyAffordance] = {}
    for name, prop in raw_props.items():
        ppath = f"$.properties.{name}"
        if not isinstance(prop, dict):
            raise WotValidationError(ppath, "expected an object")
        schema = parse_schema(prop, ppath)
        properties[name] = PropertyAffordance(
            name=name,
            schema=schema,
            forms=parse_forms(
                prop.get("forms"), base, _property_default_ops(schema), f"{ppath}.forms"
            ),
            observable=prop.get("observable") is True,
            title=schema.title,
            semantic_types=_str_list(prop.get("@type"), f"{ppath}.@type"),
        )

    return ThingDescription(
        title=title.strip(),
        id=_opt_str(raw.get("id"), "$.id"),
        base=base,
        properties=properties,
        description=_opt_str(raw.get("description"), "$.description"),
        semantic_types=_str_list(raw.get("@type"), "$.@type"),
        raw=raw,
    )
