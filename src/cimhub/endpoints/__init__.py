"""Transports in and out: HTTP, SOAP (later AMQP, MQTT, files)."""
