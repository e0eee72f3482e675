"""Test support: the platform simulator, database helpers and factories."""
