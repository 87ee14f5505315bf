"""Persistence: SQLModel tables, database setup, migrations, queries and aggregation.

This package imports nothing else of the project.
"""
