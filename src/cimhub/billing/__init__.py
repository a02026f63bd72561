"""Billing determinants: TOU calendars, daily pre-aggregation, cycle determinants (pure)."""
