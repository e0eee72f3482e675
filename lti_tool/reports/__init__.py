"""Reports: statistics snapshots, report runs and their downloads, Excel exports (O-14, O-15)."""
