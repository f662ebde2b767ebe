"""W3C Thing Models (TD 1.1 section 9) as device profiles.

A Thing Model (TM) is a Thing Description template: ``@type`` holds ``tm:ThingModel``, values
may hold ``{{PLACEHOLDER}}`` s, ``links`` with rel ``tm:extends`` inherit another TM, a
``tm:ref`` member imports a definition (patched by its siblings, RFC 7396), and ``tm:optional``
(or the older ``tm:required``) says which affordances a TD may leave out.

API (pure, no I/O except where a path is given; run file-reading calls in an executor)::

    tm = load_thing_model(path_or_dict)           # resolves tm:extends and tm:ref
    placeholders(tm)                               # {"HOST", "PORT", "UNIT_ID", ...}
    td = instantiate(tm, {"HOST": "10.0.0.5", "PORT": 502, "UNIT_ID": 1},
                     include={"demand_total_power"})   # optional affordances to keep
    library = ProfileLibrary(shipped_dir, user_dir)
    library.profiles   # {profile id: ThingModel}, shipped ones overridden by the user's
    library.errors     # [ThingModelError] for the files that were refused
    library.get("eastron-sdm630")

Every error is a :class:`ThingModelError` naming the file (``source``), the JSON path of the
offending member (``path``, e.g. ``$.properties.power.forms[0]``) and the problem (``reason``).
Everything is bounded: file size, nesting depth, number and depth of ``tm:extends``, ``tm:ref``
expansion, placeholder values and the size of the generated TD.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
import copy
from dataclasses import dataclass, field
import hashlib
import json
from pathlib import Path
import re
from typing import Any
import uuid

from .errors import WotLimitError, WotValidationError

TM_TYPE = "tm:ThingModel"
TM_TYPE_IRI = "https://www.w3.org/2019/wot/tm#ThingModel"
TM_CONTEXT = "https://www.w3.org/2019/wot/tm"
TM_MEDIA_TYPE = "application/tm+json"
TD_CONTEXT = "https://www.w3.org/2022/wot/td/v1.1"
PROFILE_SUFFIXES = (".tm.json", ".tm.jsonld")
SHIPPED_PROFILES = Path(__file__).parent / "profiles"
"""The folder of the Thing Models shipped with ThingBridge (``<vendor>-<model>.tm.json``)."""

MAX_TM_BYTES = 1024 * 1024
"""Largest Thing Model file read."""
MAX_TM_DEPTH = 48
"""Deepest nesting of objects and arrays in a Thing Model (and in what it generates)."""
MAX_EXTENDS = 8
"""Most Thing Models one model may pull in through ``tm:extends``, directly or transitively."""
MAX_REF_DEPTH = 16
"""Longest chain of ``tm:ref`` s resolved through each other."""
MAX_NODES = 200_000
"""Most JSON values a resolved model or a generated TD may hold (bounds ``tm:ref`` blow-ups)."""
MAX_VALUE_BYTES = 64 * 1024
"""Largest placeholder value (as JSON)."""
MAX_TD_OUTPUT_BYTES = 4 * 1024 * 1024
"""Largest Thing Description generated."""
MAX_PROFILES = 256
"""Most profile files read from one folder."""

_PLACEHOLDER = re.compile(r"\{\{([ -z|~]+?)\}\}")
_WHOLE = re.compile(r"^\{\{([ -z|~]+?)\}\}$")
_AFFORDANCE_KINDS = ("properties", "actions", "events")


class ThingModelError(WotValidationError):
    """A Thing Model cannot be used: names the file, the JSON path and the problem."""

    def __init__(self, source: str | None, path: str, reason: str) -> None:
        """Name the file (``source``, may be ``None`` for an in-memory TM), member and problem."""
        WotValidationError.__init__(self, path, reason)
        self.source = source
        if source:
            self.args = (f"{source}: {path}: {reason}",)

    def __str__(self) -> str:
        """``file: $.json.path: problem``."""
        return str(self.args[0])


class ThingModelLimitError(ThingModelError, WotLimitError):
    """A Thing Model exceeds one of the limits above."""

    def __init__(self, source: str | None, path: str, reason: str, *, limit: int) -> None:
        """Name the file, member, problem and the limit."""
        ThingModelError.__init__(self, source, path, reason)
        self.limit = limit
        self.count = None


@dataclass(frozen=True)
class ThingModel:
    """A loaded Thing Model with its ``tm:extends`` and ``tm:ref`` resolved.

    ``document`` still holds placeholders and ``tm:optional``; ``optional`` lists the JSON
    pointers (``/properties/name``) of the affordances a TD may leave out.
    """

    document: dict[str, Any]
    source: str | None = None
    profile_id: str | None = None
    optional: tuple[str, ...] = ()
    user: bool = False
    extends: tuple[str, ...] = field(default=())

    @property
    def title(self) -> str:
        """The model's title (placeholders left in)."""
        title = self.document.get("title")
        return title if isinstance(title, str) else (self.profile_id or "")

    @property
    def description(self) -> str | None:
        """The model's description, if any."""
        text = self.document.get("description")
        return text if isinstance(text, str) else None

    def optional_affordances(self) -> dict[str, tuple[str, str]]:
        """``{pointer: (kind, name)}`` of the optional affordances, e.g. ``("properties", "x")``."""
        found: dict[str, tuple[str, str]] = {}
        for pointer in self.optional:
            parts = pointer.strip("/").split("/")
            if len(parts) == 2 and parts[0] in _AFFORDANCE_KINDS:
                found[pointer] = (parts[0], _unescape(parts[1]))
        return found


# ---------------------------------------------------------------------------------------------
# Loading


def read_json_file(path: Path, *, limit: int = MAX_TM_BYTES) -> Any:
    """Read one JSON file of at most ``limit`` bytes, as a :class:`ThingModelError` on failure."""
    source = str(path)
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as err:
        raise ThingModelError(source, "$", f"cannot read the file: {err.strerror or err}") from err
    if len(data) > limit:
        raise ThingModelLimitError(
            source, "$", f"larger than the {limit}-byte limit for a Thing Model", limit=limit
        )
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:  # fmt: skip
        raise ThingModelError(source, "$", f"not JSON: {err}") from err
    except RecursionError as err:
        raise ThingModelLimitError(
            source, "$", "JSON nested too deeply", limit=MAX_TM_DEPTH
        ) from err


def load_thing_model(
    path_or_dict: str | Path | Mapping[str, Any],
    *,
    library: ProfileLibrary | None = None,
    source: str | None = None,
    profile_id: str | None = None,
) -> ThingModel:
    """Load a Thing Model from a file or a decoded document and resolve extends and refs.

    ``tm:extends`` hrefs are looked up as profile ids (or ``<id>.tm.json`` names) in
    ``library``, then as files relative to the model's own file (not above its folder).
    Remote (http) models are not fetched.

    Raises:
        ThingModelError: the document is not a usable Thing Model (names file, path, problem).
    """
    base_dir: Path | None = None
    chain: tuple[str, ...] = ()
    if isinstance(path_or_dict, str | Path):
        path = Path(path_or_dict)
        chain = (str(path.resolve()),)
        raw = read_json_file(path)
        source = source or str(path)
        base_dir = path.parent
        profile_id = profile_id or _profile_id(path)
    else:
        raw = path_or_dict
    loader = _Loader(library, MAX_EXTENDS)
    try:
        document, extends = loader.resolve(raw, source, base_dir, chain)
    except RecursionError as err:  # a Python built with a small stack; the limits come first
        raise ThingModelLimitError(source, "$", "nested too deeply", limit=MAX_TM_DEPTH) from err
    return ThingModel(
        document=document,
        source=source,
        profile_id=profile_id,
        optional=_optional_pointers(document, source),
        extends=tuple(extends),
    )


def _profile_id(path: Path) -> str:
    name = path.name
    for suffix in (*PROFILE_SUFFIXES, ".jsonld", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


class _Loader:
    """Resolves ``tm:extends`` and ``tm:ref`` with a shared budget."""

    def __init__(self, library: ProfileLibrary | None, extends_budget: int) -> None:
        self.library = library
        self.extends_left = extends_budget
        self.nodes = 0

    def resolve(
        self, raw: Any, source: str | None, base_dir: Path | None, chain: tuple[str, ...]
    ) -> tuple[dict[str, Any], list[str]]:
        """The document with its extends merged in and its refs expanded."""
        if not isinstance(raw, Mapping):
            raise ThingModelError(source, "$", "a Thing Model must be a JSON object")
        _check_depth(raw, source)
        if not _is_thing_model(raw.get("@type")):
            raise ThingModelError(source, "$['@type']", f"does not contain {TM_TYPE}")
        if "@context" not in raw:
            raise ThingModelError(source, "$['@context']", "is required in a Thing Model")
        _check_placeholder_keys(raw, source, "$")
        local = self._expand_refs(raw, raw, source, base_dir)
        if not isinstance(local, dict):  # pragma: no cover - a mapping stays a mapping
            raise ThingModelError(source, "$", "a Thing Model must be a JSON object")
        extends: list[str] = []
        merged: dict[str, Any] | None = None
        for index, href in _extends_links(local, source):
            lpath = f"$.links[{index}].href"
            if self.extends_left <= 0:
                raise ThingModelLimitError(
                    source,
                    lpath,
                    f"more than {MAX_EXTENDS} Thing Models pulled in by tm:extends",
                    limit=MAX_EXTENDS,
                )
            self.extends_left -= 1
            base_raw, base_source, base_base_dir, key = self._find(
                href, source, base_dir, lpath, chain
            )
            if key in chain:
                raise ThingModelError(
                    source, lpath, f"tm:extends loop: {' -> '.join((*chain, key))}"
                )
            base_doc, base_extends = self.resolve(
                base_raw, base_source, base_base_dir, (*chain, key)
            )
            extends += [key, *base_extends]
            merged = base_doc if merged is None else _merge_models(merged, base_doc)
        if merged is not None:
            local = _merge_models(merged, local)
        local["links"] = [
            link
            for link in local.get("links", [])
            if not (isinstance(link, Mapping) and link.get("rel") == "tm:extends")
        ]
        if not local["links"]:
            del local["links"]
        _check_depth(local, source)
        return local, extends

    def _find(
        self,
        href: str,
        source: str | None,
        base_dir: Path | None,
        lpath: str,
        exclude: tuple[str, ...] = (),
    ) -> tuple[Any, str, Path | None, str]:
        """The raw document an extends/ref href names, its source, folder and identity."""
        if "://" in href:
            raise ThingModelError(
                source, lpath, f"{href!r}: remote Thing Models are not fetched; copy it locally"
            )
        if self.library is not None:
            found = self.library.path_of(href, exclude)
            if found is not None:
                return read_json_file(found), str(found), found.parent, str(found.resolve())
        if base_dir is not None:
            candidate = (base_dir / href).resolve()
            root = base_dir.resolve()
            if root not in candidate.parents:
                raise ThingModelError(
                    source, lpath, f"{href!r} points outside the Thing Model's folder"
                )
            if candidate.is_file():
                return read_json_file(candidate), str(candidate), candidate.parent, str(candidate)
        raise ThingModelError(source, lpath, f"{href!r}: no such Thing Model")

    def _expand_refs(
        self,
        node: Any,
        document: Mapping[str, Any],
        source: str | None,
        base_dir: Path | None,
        path: str = "$",
        *,
        refs: tuple[str, ...] = (),
    ) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ThingModelLimitError(
                source, path, f"expands to more than {MAX_NODES} values", limit=MAX_NODES
            )
        if isinstance(node, list):
            return [
                self._expand_refs(item, document, source, base_dir, f"{path}[{i}]", refs=refs)
                for i, item in enumerate(node)
            ]
        if not isinstance(node, Mapping):
            return node
        ref = node.get("tm:ref")
        if ref is None:
            return {
                key: self._expand_refs(
                    value, document, source, base_dir, _child(path, key), refs=refs
                )
                for key, value in node.items()
            }
        rpath = _child(path, "tm:ref")
        if not isinstance(ref, str) or "#" not in ref:
            raise ThingModelError(source, rpath, "must be a string '<uri>#<JSON pointer>'")
        if len(refs) >= MAX_REF_DEPTH:
            raise ThingModelLimitError(
                source, rpath, f"tm:ref chain longer than {MAX_REF_DEPTH}", limit=MAX_REF_DEPTH
            )
        uri, pointer = ref.split("#", 1)
        target_doc: Mapping[str, Any] = document
        target_source, target_dir = source, base_dir
        if uri:
            raw, target_source, target_dir, _key = self._find(uri, source, base_dir, rpath)
            if not isinstance(raw, Mapping):
                raise ThingModelError(target_source, "$", "a Thing Model must be a JSON object")
            _check_depth(raw, target_source)
            target_doc = raw
        key = f"{target_source}#{pointer}"
        if key in refs:
            raise ThingModelError(source, rpath, f"tm:ref loop through {ref!r}")
        target = _resolve_pointer(target_doc, pointer, source, rpath)
        resolved = self._expand_refs(
            target,
            target_doc,
            target_source,
            target_dir,
            f"{path}(tm:ref {ref})",
            refs=(*refs, key),
        )
        patch = {k: v for k, v in node.items() if k != "tm:ref"}
        patch = self._expand_refs(patch, document, source, base_dir, path, refs=refs)
        return merge_patch(resolved, patch)


def _child(path: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _resolve_pointer(document: Any, pointer: str, source: str | None, path: str) -> Any:
    """RFC 6901 pointer ``pointer`` in ``document``."""
    if pointer in ("", "/"):
        return document
    if not pointer.startswith("/"):
        raise ThingModelError(source, path, f"{pointer!r} is not a JSON pointer")
    node = document
    for token in pointer[1:].split("/"):
        name = _unescape(token)
        if isinstance(node, Mapping) and name in node:
            node = node[name]
        elif isinstance(node, list) and name.isdigit() and int(name) < len(node):
            node = node[int(name)]
        else:
            raise ThingModelError(source, path, f"{pointer!r} names nothing in the Thing Model")
    return node


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: ``patch`` applied to a copy of ``target``."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: dict[str, Any] = (
        {k: copy.deepcopy(v) for k, v in target.items()} if isinstance(target, Mapping) else {}
    )
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _union(first: Any, second: Any) -> list[Any]:
    out: list[Any] = []
    for item in [*_as_list(first), *_as_list(second)]:
        if item not in out:
            out.append(item)
    return out


def _merge_models(base: Mapping[str, Any], extension: Mapping[str, Any]) -> dict[str, Any]:
    """``extension`` over ``base``: @context, @type, links and tm:optional are unions."""
    merged: dict[str, Any] = merge_patch(base, extension)
    for key in ("@context", "@type", "links", "tm:optional", "tm:required"):
        if key in base or key in extension:
            merged[key] = _union(base.get(key), extension.get(key))
    for key in ("tm:optional", "tm:required"):
        # An affordance the extension removed (null) is no longer optional or required.
        if key in merged:
            merged[key] = [p for p in merged[key] if not _names_removed(p, merged)]
    if len(merged.get("@context", ())) == 1:
        merged["@context"] = merged["@context"][0]
    return merged


def _names_removed(pointer: Any, document: Mapping[str, Any]) -> bool:
    if not isinstance(pointer, str):
        return False
    parts = pointer.lstrip("#").strip("/").split("/")
    if len(parts) != 2 or parts[0] not in _AFFORDANCE_KINDS:
        return False
    members = document.get(parts[0])
    return not isinstance(members, Mapping) or _unescape(parts[1]) not in members


def _is_thing_model(value: Any) -> bool:
    return any(item in (TM_TYPE, TM_TYPE_IRI) for item in _as_list(value))


def _extends_links(document: Mapping[str, Any], source: str | None) -> Iterator[tuple[int, str]]:
    links = document.get("links", [])
    if not isinstance(links, list):
        raise ThingModelError(source, "$.links", "must be an array")
    for index, link in enumerate(links):
        if isinstance(link, Mapping) and link.get("rel") == "tm:extends":
            href = link.get("href")
            if not isinstance(href, str) or not href:
                raise ThingModelError(source, f"$.links[{index}].href", "must be a string")
            yield index, href


def _check_depth(node: Any, source: str | None) -> None:
    """Reject nesting deeper than ``MAX_TM_DEPTH`` (iteratively: no recursion on input)."""
    stack: list[tuple[Any, int, str]] = [(node, 0, "$")]
    count = 0
    while stack:
        item, depth, path = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ThingModelLimitError(
                source, "$", f"holds more than {MAX_NODES} values", limit=MAX_NODES
            )
        if depth > MAX_TM_DEPTH:
            raise ThingModelLimitError(
                source, path, f"nested deeper than {MAX_TM_DEPTH} levels", limit=MAX_TM_DEPTH
            )
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1, _child(path, str(k))) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, depth + 1, f"{path}[{i}]") for i, v in enumerate(item))


def _check_placeholder_keys(node: Any, source: str | None, path: str) -> None:
    """Placeholders are allowed in values only (TD 1.1 section 9.3.2)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if _PLACEHOLDER.search(str(key)):
                raise ThingModelError(
                    source, _child(path, str(key)), "placeholders are allowed in values only"
                )
            _check_placeholder_keys(value, source, _child(path, str(key)))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _check_placeholder_keys(item, source, f"{path}[{index}]")


def _optional_pointers(document: Mapping[str, Any], source: str | None) -> tuple[str, ...]:
    """Pointers of optional affordances from ``tm:optional``, or all not in ``tm:required``."""
    pointers: list[str] = []
    for key in ("tm:optional", "tm:required"):
        value = document.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ThingModelError(source, _child("$", key), "must be an array of JSON pointers")
        for index, pointer in enumerate(value):
            norm = pointer.lstrip("#")
            parts = norm.strip("/").split("/")
            if (
                not norm.startswith("/")
                or len(parts) != 2
                or parts[0] not in _AFFORDANCE_KINDS
                or not isinstance(document.get(parts[0]), Mapping)
                or _unescape(parts[1]) not in document[parts[0]]
            ):
                raise ThingModelError(
                    source,
                    f"{_child('$', key)}[{index}]",
                    f"{pointer!r} does not name an affordance of this Thing Model",
                )
        if key == "tm:optional":
            pointers += [p.lstrip("#") for p in value]
        else:
            required = {p.lstrip("#").rstrip("/") for p in value}
            for kind in _AFFORDANCE_KINDS:
                members = document.get(kind)
                if isinstance(members, Mapping):
                    for name in members:
                        pointer = f"/{kind}/{name.replace('~', '~0').replace('/', '~1')}"
                        if pointer not in required and pointer not in pointers:
                            pointers.append(pointer)
    return tuple(dict.fromkeys(pointers))


# ---------------------------------------------------------------------------------------------
# Placeholders and TD generation


def _walk_strings(node: Any) -> Iterator[str]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def placeholders(
    tm: ThingModel | Mapping[str, Any], include: Iterable[str] | None = None
) -> set[str]:
    """Names of the placeholders in ``tm``; with ``include``, only in what a TD would keep.

    ``include`` as for :func:`instantiate` (``None``: every affordance, optional or not).
    """
    if isinstance(tm, ThingModel):
        document: Any = tm.document if include is None else _drop_optional(tm, set(include))
    else:
        document = tm
    return {match for text in _walk_strings(document) for match in _PLACEHOLDER.findall(text)}


def _drop_optional(tm: ThingModel, include: set[str]) -> dict[str, Any]:
    document = copy.deepcopy(tm.document)
    for pointer, (kind, name) in tm.optional_affordances().items():
        if name in include or pointer in include or f"#{pointer}" in include:
            continue
        members = document.get(kind)
        if isinstance(members, dict):
            members.pop(name, None)
            if not members:
                del document[kind]
    return document


def _check_value(name: str, value: Any) -> None:
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:  # fmt: skip
        raise ThingModelError(
            None, "$", f"the value of placeholder {name} is not JSON: {err}"
        ) from err
    except RecursionError as err:
        raise ThingModelError(
            None, "$", f"the value of placeholder {name} is nested too deeply"
        ) from err
    if len(encoded) > MAX_VALUE_BYTES:
        raise ThingModelLimitError(
            None,
            "$",
            f"the value of placeholder {name} is larger than {MAX_VALUE_BYTES} bytes",
            limit=MAX_VALUE_BYTES,
        )


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class _Substituter:
    def __init__(self, values: Mapping[str, Any], source: str | None) -> None:
        self.values = values
        self.source = source
        self.size = 0

    def _grow(self, amount: int, path: str) -> None:
        self.size += amount
        if self.size > MAX_TD_OUTPUT_BYTES:
            raise ThingModelLimitError(
                self.source,
                path,
                f"the generated Thing Description would be larger than {MAX_TD_OUTPUT_BYTES} bytes",
                limit=MAX_TD_OUTPUT_BYTES,
            )

    def apply(self, node: Any, path: str) -> Any:
        if isinstance(node, str):
            whole = _WHOLE.match(node)
            if whole:
                value = self.values[whole.group(1)]
                self._grow(len(json.dumps(value)), path)
                return copy.deepcopy(value)
            text = _PLACEHOLDER.sub(lambda m: _as_text(self.values[m.group(1)]), node)
            self._grow(len(text), path)
            return text
        if isinstance(node, Mapping):
            self._grow(len(node), path)
            return {k: self.apply(v, _child(path, k)) for k, v in node.items()}
        if isinstance(node, list):
            self._grow(len(node), path)
            return [self.apply(v, f"{path}[{i}]") for i, v in enumerate(node)]
        self._grow(1, path)
        return node


def _strip_tm_terms(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {k: _strip_tm_terms(v) for k, v in node.items() if not str(k).startswith("tm:")}
    if isinstance(node, list):
        return [_strip_tm_terms(v) for v in node]
    return node


def _clean_context(context: Any) -> Any:
    items: list[Any] = []
    for item in _as_list(context):
        if isinstance(item, Mapping):
            kept = {k: v for k, v in item.items() if not (k == "tm" or v == TM_CONTEXT)}
            if kept:
                items.append(kept)
        else:
            items.append(item)
    if not items or (items[0] != TD_CONTEXT and items[0] != "https://www.w3.org/2019/wot/td/v1"):
        items.insert(0, TD_CONTEXT)
    return items[0] if len(items) == 1 else items


def instantiate(
    tm: ThingModel,
    values: Mapping[str, Any],
    *,
    include: Iterable[str] = (),
    thing_id: str | None = None,
    tm_href: str | None = None,
) -> dict[str, Any]:
    """Generate a Thing Description from ``tm`` (TD 1.1 section 9.4).

    ``values`` maps placeholder names to values: a placeholder that is a whole string value
    takes the value with its type (``"{{PORT}}"`` with 502 becomes the number 502); one inside
    a longer string is replaced by the value's text. ``include`` names the optional affordances
    to keep, by name (``"thd_voltage_l1"``) or pointer (``"/properties/thd_voltage_l1"``);
    the others are left out. ``thing_id`` becomes ``id`` when the model has none (default: a
    ``urn:uuid:`` derived from the model and the values, so the same inputs give the same id).
    The TD links to the model with rel ``type`` (``tm_href``, default the profile id's file
    name or the model's source).

    Raises:
        ThingModelError: a placeholder has no value (all missing ones are named), a value is
            not JSON or too large, or the TD would be too large.
    """
    include_set = set(include)
    document = _drop_optional(tm, include_set)
    needed = placeholders(document)
    missing = sorted(needed - set(values))
    if missing:
        raise ThingModelError(
            tm.source, "$", f"no value given for the placeholder(s) {', '.join(missing)}"
        )
    for name in sorted(needed):
        _check_value(name, values[name])
    try:
        td: dict[str, Any] = _strip_tm_terms(_Substituter(values, tm.source).apply(document, "$"))
    except RecursionError as err:  # a placeholder value nested deeply inside a deep model
        raise ThingModelLimitError(
            tm.source,
            "$",
            "the generated Thing Description is nested too deeply",
            limit=MAX_TM_DEPTH,
        ) from err
    types = [t for t in _as_list(td.get("@type")) if t not in (TM_TYPE, TM_TYPE_IRI)]
    if not types:
        td.pop("@type", None)
    else:
        td["@type"] = types[0] if len(types) == 1 else types
    td["@context"] = _clean_context(td.get("@context"))
    links = [
        link
        for link in _as_list(td.get("links"))
        if not (isinstance(link, Mapping) and str(link.get("rel", "")).startswith("tm:"))
    ]
    href = tm_href or (f"{tm.profile_id}.tm.json" if tm.profile_id else tm.source)
    if href:
        links.append({"rel": "type", "href": href, "type": TM_MEDIA_TYPE})
    if links:
        td["links"] = links
    else:
        td.pop("links", None)
    version = td.get("version")
    if isinstance(version, dict) and "instance" not in version:
        model = version.get("model")
        version["instance"] = model if isinstance(model, str) else "1.0.0"
    if "id" not in td:
        if thing_id is None:
            digest = hashlib.sha256(
                json.dumps(
                    [tm.profile_id or tm.source or tm.title, dict(values)],
                    sort_keys=True,
                    default=str,
                ).encode()
            ).hexdigest()
            thing_id = uuid.UUID(digest[:32]).urn
        td["id"] = thing_id
    if "securityDefinitions" not in td or "security" not in td:
        td.setdefault("securityDefinitions", {"nosec_sc": {"scheme": "nosec"}})
        td.setdefault("security", next(iter(td["securityDefinitions"]), "nosec_sc"))
    _check_depth(td, tm.source)
    return td


# ---------------------------------------------------------------------------------------------
# Profile library


class ProfileLibrary:
    """Shipped and user Thing Models by profile id (the file name without ``.tm.json``).

    A user profile with the same id as a shipped one replaces it. A file that cannot be used
    is refused and listed in ``errors`` (file, JSON path, problem); the others still load (a
    broken user override leaves the shipped profile in place). Reading the folders is
    blocking I/O: construct and :meth:`reload` in an executor.
    """

    def __init__(self, shipped_dir: str | Path | None, user_dir: str | Path | None = None) -> None:
        """Read every profile in both folders (a missing folder holds none)."""
        self.shipped_dir = Path(shipped_dir) if shipped_dir is not None else None
        self.user_dir = Path(user_dir) if user_dir is not None else None
        self.profiles: dict[str, ThingModel] = {}
        self.errors: list[ThingModelError] = []
        self._paths: dict[str, Path] = {}
        self._shipped: dict[str, Path] = {}
        self.reload()

    @staticmethod
    def _files(folder: Path | None) -> list[Path]:
        if folder is None or not folder.is_dir():
            return []
        return sorted(
            p for p in folder.iterdir() if p.name.endswith(PROFILE_SUFFIXES) and p.is_file()
        )

    def reload(self) -> None:
        """Read both folders again."""
        self.profiles = {}
        self.errors = []
        self._paths = {}
        self._shipped = {}
        files: dict[bool, list[Path]] = {}
        for folder, user in ((self.shipped_dir, False), (self.user_dir, True)):
            found = self._files(folder)
            if len(found) > MAX_PROFILES:
                self.errors.append(
                    ThingModelLimitError(
                        str(folder),
                        "$",
                        f"more than {MAX_PROFILES} Thing Models; only the first were read",
                        limit=MAX_PROFILES,
                    )
                )
                found = found[:MAX_PROFILES]
            files[user] = found
        self._shipped = {_profile_id(path): path for path in files[False]}
        # tm:extends by id finds the profile in effect: the user's when there is one (a user
        # file extending its own id gets the shipped one). Overrides load first, so that a
        # broken override is known before other files extend its id.
        self._paths = {**self._shipped, **{_profile_id(p): p for p in files[True]}}
        users = sorted(files[True], key=lambda p: (_profile_id(p) not in self._shipped, p.name))
        for user, paths in ((False, files[False]), (True, users)):
            for path in paths:
                profile_id = _profile_id(path)
                try:
                    model = load_thing_model(path, library=self, profile_id=profile_id)
                except ThingModelError as err:
                    self.errors.append(err)
                    if user and profile_id in self._shipped:
                        self._paths[profile_id] = self._shipped[profile_id]
                    continue
                self.profiles[profile_id] = ThingModel(
                    document=model.document,
                    source=model.source,
                    profile_id=profile_id,
                    optional=model.optional,
                    user=user,
                    extends=model.extends,
                )

    def path_of(self, name: str, exclude: Iterable[str] = ()) -> Path | None:
        """The file of profile ``name`` (an id or ``<id>.tm.json``), if the library has one.

        ``exclude`` holds resolved file paths not to answer with (the files being loaded): a
        user profile that extends its own id gets the shipped profile of that id.
        """
        if "/" in name or "\\" in name:
            return None
        profile_id = _profile_id(Path(name))
        skip = set(exclude)
        for path in (self._paths.get(profile_id), self._shipped.get(profile_id)):
            if path is not None and str(path.resolve()) not in skip:
                return path
        return None

    def get(self, profile_id: str) -> ThingModel:
        """The profile ``profile_id``.

        Raises:
            ThingModelError: there is no usable profile of that id.
        """
        try:
            return self.profiles[profile_id]
        except KeyError:
            for err in self.errors:
                if err.source and _profile_id(Path(err.source)) == profile_id:
                    raise err from None
            raise ThingModelError(None, "$", f"no profile {profile_id!r}") from None

    def ids(self) -> list[str]:
        """Profile ids, sorted."""
        return sorted(self.profiles)


# ---------------------------------------------------------------------------------------------
# Command-line helpers (shared by ``describe`` and ``read``)


def is_thing_model(document: Any) -> bool:
    """``document`` is a JSON object whose ``@type`` holds ``tm:ThingModel``."""
    return isinstance(document, Mapping) and _is_thing_model(document.get("@type"))


def parse_assignment(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` of a ``--set`` option: VALUE is read as JSON when it is JSON, else text.

    ``PORT=502`` gives the number 502, ``READ_ONLY=true`` the boolean, ``HOST=10.0.0.5`` and
    ``TITLE=Meter`` strings; ``'UNIT_ID="7"'`` the string "7".

    Raises:
        ValueError: no ``=``, or an empty or malformed name.
    """
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name or not _WHOLE.match("{{" + name + "}}"):
        raise ValueError(f"{text!r} is not NAME=VALUE")
    try:
        return name, json.loads(value)
    except (ValueError, RecursionError):  # fmt: skip
        return name, value


def td_from_document(
    document: Any,
    *,
    path: str | Path | None = None,
    values: Mapping[str, Any] | None = None,
    include: Iterable[str] = (),
    library: ProfileLibrary | None = None,
) -> Any:
    """``document`` itself when it is not a Thing Model, else the TD generated from it.

    ``path`` is the file the model was read from (for relative ``tm:extends``); ``library``
    resolves ``tm:extends`` by profile id (default: the shipped profiles). ``include`` names
    optional affordances to keep; ``"*"`` keeps them all.

    Raises:
        ThingModelError: the model cannot be used or a placeholder has no value.
    """
    if not is_thing_model(document):
        return document
    if library is None:
        library = ProfileLibrary(SHIPPED_PROFILES)
    tm = load_thing_model(path if path is not None else document, library=library)
    wanted = set(include)
    if "*" in wanted:
        wanted |= set(tm.optional)
    return instantiate(tm, values or {}, include=wanted)
