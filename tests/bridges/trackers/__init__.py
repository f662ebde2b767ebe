"""The GPS tracker gateway in Home Assistant: flows, discovery, entities, vendor frames."""
