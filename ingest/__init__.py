"""The MQTT ingestor: parse, validate, batch and store readings."""
