"""The head-end simulator: simulated HES speaking CIM (HTTP/SOAP) and MQTT vendor profiles."""
