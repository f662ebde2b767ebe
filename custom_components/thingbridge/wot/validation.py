"""Check a value against a WoT data schema before it is sent to a Thing.

Covers what a consumer must not get wrong (TD 1.1 section 8.2: a Consumer must not generate
data the schemas do not describe): type, enum/const, numeric range, string length, and the
members of objects and items of arrays. Hand-written because the schema is a small JSON Schema
subset already parsed into :class:`DataSchema`; a full JSON Schema validator would need the raw
document and would not return the affordance-relative message this module does.
"""

from __future__ import annotations

from typing import Any

from .td import DataSchema

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "string": (str,),
    "object": (dict,),
    "array": (list,),
}


def schema_error(schema: DataSchema, value: Any, path: str = "value") -> str | None:
    """Why ``value`` does not fit ``schema``, or ``None`` when it does."""
    if schema.one_of:
        if any(schema_error(option, value, path) is None for option in schema.one_of):
            return None
        return f"{path} matches none of the allowed shapes"
    if schema.type == "null":
        return None if value is None else f"{path} must be null"
    if schema.type in _JSON_TYPES:
        expected = _JSON_TYPES[schema.type]
        wrong = not isinstance(value, expected) or (
            isinstance(value, bool) and schema.type != "boolean"
        )
        whole_float = schema.type == "integer" and isinstance(value, float) and value.is_integer()
        if wrong and not whole_float:
            return f"{path} must be of type {schema.type}"
    if schema.enum is not None and value not in schema.enum:
        return f"{path} must be one of {', '.join(map(str, schema.enum))}"
    if schema.const is not None and value != schema.const:
        return f"{path} must be {schema.const!r}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if schema.minimum is not None and value < schema.minimum:
            return f"{path} must be at least {schema.minimum:g}"
        if schema.maximum is not None and value > schema.maximum:
            return f"{path} must be at most {schema.maximum:g}"
        if schema.multiple_of and not _is_multiple(value, schema.multiple_of):
            return f"{path} must be a multiple of {schema.multiple_of:g}"
    if isinstance(value, str):
        if schema.min_length is not None and len(value) < schema.min_length:
            return f"{path} must have at least {schema.min_length} characters"
        if schema.max_length is not None and len(value) > schema.max_length:
            return f"{path} must have at most {schema.max_length} characters"
    if isinstance(value, dict):
        for name in schema.required:
            if name not in value:
                return f"{path}.{name} is required"
        for name, sub in schema.properties.items():
            if name in value and (error := schema_error(sub, value[name], f"{path}.{name}")):
                return error
    if isinstance(value, list) and schema.items is not None:
        for index, item in enumerate(value):
            if error := schema_error(schema.items, item, f"{path}[{index}]"):
                return error
    return None


def _is_multiple(value: float, step: float) -> bool:
    """``value`` is a whole number of ``step`` (within float rounding: 0.3 of 0.1 is)."""
    quotient = value / step
    return abs(quotient - round(quotient)) <= 1e-9 * max(1.0, abs(quotient))
