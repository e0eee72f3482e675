"""Semester archiving (O-14): records lock, final statistics and report are frozen; reopening is audited."""
