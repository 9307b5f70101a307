"""The lakehouse: Delta Lake tables written exactly once from the log (bronze, silver, gold)."""
