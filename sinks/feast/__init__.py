"""Feast: the store built from settings, the online writer, per-backend erasure."""
