"""The Web of Things pillar's glue: Things and WoT directories."""
