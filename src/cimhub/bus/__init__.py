"""The message bus: the one pipeline every transport uses, kombu topology and brokers,
workers, the transactional outbox and its relay, deliveries, dead letters, metrics."""
