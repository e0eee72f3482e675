"""Observations: records, groups, problems and teacher replies (O-11…O-13)."""
