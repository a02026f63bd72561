"""MultiSpeak services mapped onto the same domain."""
