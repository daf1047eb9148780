"""Definitions: YAML under schemas/ -> the desired model, every problem located."""
