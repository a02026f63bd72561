"""Prepaid wallet, tariff and disconnect policy (pure functions)."""
