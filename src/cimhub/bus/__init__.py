"""The message bus: the one pipeline every transport uses, and (later) kombu."""
