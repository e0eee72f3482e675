"""Tingke's RQ worker: statistics, reports, reminders. Imports services and models, never views."""
