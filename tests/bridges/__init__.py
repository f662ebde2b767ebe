"""Tests of the Home Assistant glue, one folder per pillar (beside tests/lib/, the libraries)."""
