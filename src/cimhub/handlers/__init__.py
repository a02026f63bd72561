"""Handlers: one plain function per (noun, verb), found through the registry."""
