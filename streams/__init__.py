"""Continuous processors: thin engine adapters around the domain core."""
