"""Batch jobs over the lakehouse (PySpark), each a `fitstream jobs` command."""
