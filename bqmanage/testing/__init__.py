"""Warehouses for applications' tests: built from the same definitions as production, the pytest plugin, the emulator."""
