"""Reference devices for ThingBridge: Things, trackers and Modbus slaves on real sockets.

Used by the tests, the benchmarks and the development instance (``scripts/develop``); users
can run them too (``python -m simulator --help``). Not shipped through HACS. The simulator
never imports the integration: it is an independent peer that speaks the protocols.
"""
