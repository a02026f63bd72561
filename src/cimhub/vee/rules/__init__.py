"""The validation rules, one module per family; each registers itself in vee.registry."""
