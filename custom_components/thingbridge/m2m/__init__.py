"""Legacy machine-to-machine (M2M) protocol library used by ThingBridge.

Pure, typed Python with no Home Assistant imports, publishable on its own.
:mod:`.trackers` decodes the wire protocols of classic cellular GPS trackers
(Teltonika, GT06/Concox, TK103, Coban/GPS103, H02) and of the Traccar Client /
OsmAnd phone apps.
"""
