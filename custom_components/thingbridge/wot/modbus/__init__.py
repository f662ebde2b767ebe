"""The Modbus binding of the Web of Things library: forms, register decoding, reads and writes.

Only :mod:`.binding` (forms, no I/O) is imported here, because :mod:`..td` needs it;
:mod:`.client` (exported by the ``wot`` package face) executes forms with
``modbus_connection``, the library Home Assistant's modbus integration is built on;
:mod:`.sunspec` turns a SunSpec device into a Thing Description by scanning its model chain.
"""

from .binding import (
    DEFAULT_PORT,
    MODV_NAMESPACES,
    SCHEME_FRAMING,
    TBM_NAMESPACE,
    TBM_PREFIX,
    Entity,
    Framing,
    ModbusForm,
    ModbusLink,
    ScaleFactorRef,
    ValueType,
    Vocabulary,
    is_modbus_scheme,
    modbus_url,
    parse_modbus_form,
    vocabulary_of,
)

__all__ = [
    "DEFAULT_PORT",
    "MODV_NAMESPACES",
    "SCHEME_FRAMING",
    "TBM_NAMESPACE",
    "TBM_PREFIX",
    "Entity",
    "Framing",
    "ModbusForm",
    "ModbusLink",
    "ScaleFactorRef",
    "ValueType",
    "Vocabulary",
    "is_modbus_scheme",
    "modbus_url",
    "parse_modbus_form",
    "vocabulary_of",
]
