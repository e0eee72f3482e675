"""The one duty engine: rule kinds, evaluation, dashboards and ``tingke compliance``."""
