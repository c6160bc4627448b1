"""The numbered SQL migrations, importable as `zaphubd.migrations` (see pyproject.toml)."""
