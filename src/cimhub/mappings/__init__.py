"""CIM XML <-> domain objects."""
