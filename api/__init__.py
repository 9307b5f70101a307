"""The versioned HTTP API (/api/v1): device ingest and the read side of the views."""
