"""Persistence: SQLModel tables, database setup, migrations, queries and aggregation.

This package imports nothing else of the project (DESIGN §2).
"""

# Every table on the one metadata, whichever module is imported first.
from storage import models_inperson  # noqa: F401
