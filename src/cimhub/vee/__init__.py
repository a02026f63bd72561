"""Validation, estimation and editing of meter data (pure functions)."""
