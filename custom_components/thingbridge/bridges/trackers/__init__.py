"""The GPS tracker pillar's glue: the gateway entry and its tracker subentries."""
