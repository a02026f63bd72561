"""The 61968-100 envelope: hardened parsing, schema validation, replies."""
