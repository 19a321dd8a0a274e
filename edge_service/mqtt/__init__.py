"""MQTT publishing that loses nothing: the outbox, the paho sink, commands, discovery."""
