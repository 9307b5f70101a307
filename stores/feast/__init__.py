"""Feast: the store built from settings, the Delta-reading offline store, and one module
per online store backend (with the per-user erase Feast does not offer)."""
