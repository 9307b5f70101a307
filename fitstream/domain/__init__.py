"""The domain core: pure Python, no I/O, no engine imports.

The same code runs under Faust, under PyFlink and in the tests.
"""
