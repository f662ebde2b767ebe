"""Normalise the unit strings real Thing Descriptions use.

TDs write units as free text (``°C``, ``Celsius``, ``degree celsius``), as QUDT/OM terms with
or without a prefix (``om2:degreeCelsius``, ``qudt:DEG_C``) or as URIs. :func:`canonical_unit`
maps the ones it knows to one canonical symbol and returns ``None`` for the rest.
"""

from __future__ import annotations

import re

_ALIASES: dict[str, tuple[str, ...]] = {
    "°C": (
        "°c",
        "℃",
        "c",
        "celsius",
        "degreecelsius",
        "degreescelsius",
        "degc",
        "deg_c",
        "celcius",
        "degreecentigrade",
        "degree_centigrade",
        "centigrade",
        "cel",
    ),
    "°F": ("°f", "℉", "f", "fahrenheit", "degreefahrenheit", "degreesfahrenheit", "degf", "deg_f"),
    "K": ("k", "kelvin"),
    "%": ("%", "percent", "percentage", "pct", "%rh", "% rh", "%r.h.", "% r.h.", "percentrh"),
    "W": ("w", "watt", "watts"),
    "kW": ("kw", "kilowatt", "kilowatts"),
    "Wh": ("wh", "watthour", "watthours", "w_h", "w-h"),
    "kWh": ("kwh", "kilowatthour", "kilowatthours", "kw_h", "kw-h"),
    "V": ("v", "volt", "volts"),
    "VA": ("va", "voltampere", "voltamperes"),
    "kVA": ("kva", "kilovoltampere", "kilovoltamperes"),
    "var": ("var", "vars", "voltamperereactive"),
    "kvar": ("kvar", "kilovoltamperereactive"),
    "VAh": ("vah", "voltamperehour"),
    "kVAh": ("kvah", "kilovoltamperehour"),
    "varh": ("varh", "voltamperereactivehour"),
    "kvarh": ("kvarh", "kilovoltamperereactivehour"),
    "A": ("a", "ampere", "amperes", "amp", "amps"),
    "lx": ("lx", "lux"),
    "hPa": ("hpa", "hectopascal"),
    "Pa": ("pa", "pascal"),
    "ppm": ("ppm", "partspermillion"),
    "ppb": ("ppb", "partsperbillion"),
    "µg/m³": (
        "µg/m³",
        "μg/m³",
        "ug/m3",
        "µg/m3",
        "microgrampercubicmetre",
        "microgramspercubicmetre",
        "microgrampercubicmeter",
        "microgramspercubicmeter",
    ),
    "s": ("s", "sec", "second", "seconds", "secondtime", "second-time"),
    "min": ("min", "minute", "minutes", "minuteoftime"),
    "h": ("h", "hr", "hour", "hours"),
    "m": ("m", "metre", "meter", "metres", "meters"),
    "km/h": ("km/h", "kmh", "kilometreperhour", "kilometerperhour", "kilometrepersecond_h"),
    "m/s": ("m/s", "metrepersecond", "meterpersecond"),
    "dB": ("db", "decibel"),
    "dBm": ("dbm",),
    "Hz": ("hz", "hertz"),
    "kHz": ("khz", "kilohertz"),
    "kPa": ("kpa", "kilopascal"),
    "bar": ("bar",),
    "mbar": ("mbar", "millibar"),
    "mA": ("ma", "milliampere", "milliamperes"),
    "mV": ("mv", "millivolt", "millivolts"),
    "mm": ("mm", "millimetre", "millimeter", "millimetres", "millimeters"),
    "cm": ("cm", "centimetre", "centimeter", "centimetres", "centimeters"),
    "km": ("km", "kilometre", "kilometer", "kilometres", "kilometers"),
}
_LOOKUP = {alias: canonical for canonical, aliases in _ALIASES.items() for alias in aliases}
_PREFIX = re.compile(r"^(?:[a-z][a-z0-9_-]*:(?!//))")


def canonical_unit(unit: str | None) -> str | None:
    """Return the canonical symbol for ``unit``, or ``None`` when it is unknown."""
    if not unit:
        return None
    text = unit.strip()
    # URIs such as http://qudt.org/vocab/unit/DEG_C or ...#degreeCelsius: keep the last segment.
    if "://" in text:
        text = re.split(r"[/#]", text.rstrip("/#"))[-1]
    text = _PREFIX.sub("", text.lower())
    if text in _LOOKUP:
        return _LOOKUP[text]
    squashed = re.sub(r"[\s_\-]", "", text)
    return _LOOKUP.get(squashed)
