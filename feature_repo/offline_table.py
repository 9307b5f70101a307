"""The offline feature table that the Feast repo's batch source reads: its name in the
lakehouse and its Arrow schema. Defined with the repo (the store writes the table the
repo describes), so the repo needs nothing from the stores above it."""

from __future__ import annotations

import pyarrow as pa

from fitstream.domain.features import FLAT_FEATURE_NAMES, INTEGER_FEATURES

USER_FEATURES = "features.user_features"

# Every feature column is nullable (Arrow fields are): the v2 last_* integers are None
# for a user with fewer workouts, and stay int64 with nulls, never floats.
USER_FEATURES_SCHEMA = pa.schema([
    pa.field("user_id", pa.string()), pa.field("as_of", pa.int64()),
    pa.field("event_timestamp", pa.timestamp("ms", tz="UTC")),
    pa.field("as_of_date", pa.string()),
    *(pa.field(name, pa.int64() if name in INTEGER_FEATURES else pa.float64())
      for name in FLAT_FEATURE_NAMES)])
