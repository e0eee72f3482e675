"""Directory: institutions (tenants), units, people and the positions they hold."""
