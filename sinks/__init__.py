"""Writers from topics to stores; one package per store, each behind a small interface."""
