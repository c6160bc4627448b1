"""Postgres: the asyncpg pool wrapper, the migration runner and one repository per table."""
