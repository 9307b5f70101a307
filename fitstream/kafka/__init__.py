"""Kafka plumbing shared by every process: client configs, topics, dead letters."""
