"""Factories and fixtures for tests, ours and integrators'."""
