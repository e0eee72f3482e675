"""Running Tingke in production: health and readiness, metrics, structured logs, the doctor
(``tingke check``), backups and restores, and registering many institutions at once (README, "Production")."""
