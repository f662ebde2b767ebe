"""Tests of the Web of Things library (``wot/``), without Home Assistant."""
