"""``fitstream jobs training-set``: the weekly-distance training set, features joined
point in time with a label, into ``features.weekly_distance_training`` (Delta).

- Spine: one snapshot per user and UTC midnight, from the first midnight after the
  user's first feature row, while the label window has ended in the data
  (:func:`fitstream.domain.features.snapshot_days`).
- Features: the user's latest row of ``features.user_features`` with ``as_of`` at or
  before the snapshot — what Feast's online store served at that moment, and what
  ``get_historical_features`` returns (the skew test proves the two agree). No row after
  the snapshot is ever joined, so nothing leaks from the future.
- Label: metres of completed workouts (``silver.workouts``) ending in the 7 days after the
  snapshot, summed in whole millimetres
  (:func:`fitstream.domain.features.next_days_distance_m`).

One Delta commit replaces the table (``write_table``); the report counts snapshots,
users and the label's spread.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as sf

from fitstream.domain.features import DAY_MS, FLAT_FEATURE_NAMES, LABEL_HORIZON_DAYS
from fitstream.settings import FitStreamSettings
from stores.delta.spark_io import read_snapshot, write_table
from stores.delta.tables import SILVER_WORKOUTS, TRAINING_SET, USER_FEATURES

LABEL = f"label_next_{LABEL_HORIZON_DAYS}d_distance_m"
PARTITION_BY = ["snapshot_date"]


def build_training_set(settings: FitStreamSettings, spark: SparkSession) -> dict[str, Any]:
    options = settings.lakehouse.object_store_options()
    features = read_snapshot(spark, settings.lakehouse_uri(USER_FEATURES), options)
    workouts = (read_snapshot(spark, settings.lakehouse_uri(SILVER_WORKOUTS), options)
                .where(sf.col("status") == "completed")
                .select("user_id", "end_time", "distance_meters"))
    data_end = workouts.agg(sf.max("end_time")).first()[0]
    if data_end is None:
        raise ValueError("silver.workouts holds no completed workout: nothing to label")
    horizon_ms = LABEL_HORIZON_DAYS * DAY_MS
    last_day = (data_end - horizon_ms) // DAY_MS
    spine = (features.groupBy("user_id").agg(sf.min("as_of").alias("first_row_at"))
             .select("user_id", "first_row_at", sf.explode(sf.sequence(
                 sf.floor(sf.col("first_row_at") / DAY_MS).cast("bigint") + 1,
                 sf.lit(last_day).cast("bigint"))).alias("day"))
             .withColumn("snapshot_at", sf.col("day") * DAY_MS)
             # sequence() counts down when start > stop: keep only what snapshot_days makes.
             .where((sf.col("snapshot_at") > sf.col("first_row_at"))
                    & (sf.col("day") <= last_day))
             .select("user_id", "snapshot_at"))

    latest = Window.partitionBy("s.user_id", "s.snapshot_at").orderBy(sf.col("f.as_of").desc())
    with_features = (
        spine.alias("s")
        .join(features.alias("f"), (sf.col("s.user_id") == sf.col("f.user_id"))
              & (sf.col("f.as_of") <= sf.col("s.snapshot_at")))
        .withColumn("rank", sf.row_number().over(latest)).where(sf.col("rank") == 1)
        .select("s.user_id", "s.snapshot_at", sf.col("f.as_of").alias("feature_as_of"),
                *(sf.col(f"f.{name}") for name in FLAT_FEATURE_NAMES)))
    labels = (
        spine.alias("s")
        .join(workouts.alias("w"), (sf.col("s.user_id") == sf.col("w.user_id"))
              & (sf.col("w.end_time") > sf.col("s.snapshot_at"))
              & (sf.col("w.end_time") <= sf.col("s.snapshot_at") + horizon_ms))
        .groupBy("s.user_id", "s.snapshot_at")
        .agg(sf.sum(sf.round(sf.col("w.distance_meters") * 1000).cast("bigint"))
             .alias("label_mm")))
    training = (
        with_features.join(labels, ["user_id", "snapshot_at"], "left")
        .withColumn(LABEL, sf.coalesce(sf.col("label_mm"), sf.lit(0)) / 1000.0)
        .drop("label_mm")
        .withColumn("event_timestamp", sf.timestamp_millis("snapshot_at"))
        .withColumn("snapshot_date", sf.date_format("event_timestamp", "yyyy-MM-dd"))
        .cache())
    write_table(training, settings.lakehouse_uri(TRAINING_SET), PARTITION_BY,
                storage_options=options)
    summary = training.agg(sf.count("*").alias("rows"),
                           sf.countDistinct("user_id").alias("users"),
                           sf.min("snapshot_at").alias("first"),
                           sf.max("snapshot_at").alias("last"),
                           sf.avg(LABEL).alias("mean_label"),
                           sf.sum((sf.col(LABEL) == 0).cast("int")).alias("zero_labels"),
                           ).first().asDict()
    training.unpersist()
    return {**summary, "data_end": data_end, "table": settings.lakehouse_uri(TRAINING_SET)}
