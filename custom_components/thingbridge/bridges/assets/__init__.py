"""The asset register's glue: assets and geofences as subentries, custody, positions, entities."""
