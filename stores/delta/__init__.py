"""The lakehouse store: the Delta tables (names, schemas, rows), their paths and
creation, and the Spark <-> Delta bridge the batch jobs read and write through."""
