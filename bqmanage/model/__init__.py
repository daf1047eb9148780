"""Model: the one in-memory model of datasets, tables, columns and types, and its REST pair."""
