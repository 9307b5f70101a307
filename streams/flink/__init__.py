"""The Flink processor (issue 12): the pipeline core on PyFlink 2.0, in .venv-flink."""
