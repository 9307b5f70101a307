"""The Spark session every job uses, from settings; Python workers run this interpreter."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from fitstream.settings import FitStreamSettings


def spark_session(settings: FitStreamSettings, app_name: str) -> SparkSession:
    # Workers must import the project: the venv's interpreter, not whatever is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = settings.spark
    builder = SparkSession.builder
    if spark.auth_secret.get_secret_value():
        # The cluster (docker-compose.yml) refuses drivers without its shared secret.
        builder = (builder.config("spark.authenticate", "true")
                   .config("spark.authenticate.secret", spark.auth_secret.get_secret_value()))
    session = (builder.master(spark.master).appName(app_name)
               .config("spark.driver.memory", spark.driver_memory)
               .config("spark.sql.shuffle.partitions", spark.shuffle_partitions)
               .config("spark.sql.session.timeZone", "UTC")
               # Delta's timestamp is microseconds; Spark's default Parquet INT96 is not it.
               .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .getOrCreate())
    session.sparkContext.setLogLevel("WARN")
    return session
