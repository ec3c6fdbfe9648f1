"""Line I/O: how results leave the station for the line and the plant (outboxes, alarms, PLC protocols, MQTT,
metrics). Shared by `inspector run` and `inspector serve`; the engine (`inference`) knows nothing of it."""
