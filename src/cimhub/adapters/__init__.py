"""Head-end adapters: commands out to each HES (CIM over SOAP/HTTP, vendor JSON over MQTT)
and vendor MQTT data in, through the same pipeline as every other message."""
