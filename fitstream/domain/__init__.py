"""The domain core: pure Python, no I/O, no engine imports.

It is engine-free so that every engine shares it: the Faust processor, the Spark
backfill and a future Flink job all call the same code, and so do the tests.
"""
