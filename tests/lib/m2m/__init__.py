"""Tests of the M2M library (``m2m/``: tracker gateway, journal, decoders), no Home Assistant."""
