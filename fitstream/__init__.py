"""FitStream: workout telemetry as an event log, and the views built from it."""
