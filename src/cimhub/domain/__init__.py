"""The pure core: entities and services, no I/O."""
