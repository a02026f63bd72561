"""Bulk import of master data from the billing system's CSV files (beside the handlers)."""
