"""The ``fitstream`` command line."""
