"""Feast's DuckDB offline store, reading Delta sources through delta-rs.

Feast's own DuckDB store reads a Delta source with DuckDB's ``delta`` extension, which
DuckDB downloads on first use from extensions.duckdb.org: not reachable where only
package registries are (these machines, many production networks). Here a Delta source
is read with ``deltalake`` — the table's current snapshot, as every other reader of the
lakehouse — and handed to DuckDB as Arrow; everything else (the point-in-time join,
other source formats) is Feast's. Configured as ``offline_store.type:
stores.feast.offline_store.DeltaDuckDBOfflineStore``.

The snapshot is read whole into memory: right for the feature tables here (one row per
completed workout); a larger table wants the extension, or Spark (jobs/training_set.py).
"""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable
from feast.data_format import DeltaFormat
from feast.infra.offline_stores import duckdb as feast_duckdb
from feast.infra.offline_stores.duckdb import DuckDBOfflineStore, DuckDBOfflineStoreConfig
from feast.infra.offline_stores.file_source import FileSource
from feast.infra.offline_stores.ibis import (
    get_historical_features_ibis,
    pull_all_from_table_or_query_ibis,
    pull_latest_from_table_or_query_ibis,
)

OFFLINE_STORE_TYPE = "stores.feast.offline_store.DeltaDuckDBOfflineStore"


def delta_reader(storage_options: dict[str, str]) -> Any:
    def read_source(data_source: Any, repo_path: str) -> ibis.Table:
        if isinstance(data_source, FileSource) and isinstance(data_source.file_format,
                                                              DeltaFormat):
            return ibis.memtable(DeltaTable(data_source.path,
                                            storage_options=storage_options or None)
                                 .to_pyarrow_table())
        return feast_duckdb._read_data_source(data_source, repo_path)
    return read_source


def _io(config: Any) -> dict[str, Any]:
    return {"data_source_reader": delta_reader(config.offline_store.storage_options),
            "data_source_writer": feast_duckdb._write_data_source,
            "staging_location": config.offline_store.staging_location,
            "staging_location_endpoint_override":
                config.offline_store.staging_location_endpoint_override}


class DeltaDuckDBOfflineStoreConfig(DuckDBOfflineStoreConfig):
    type: str = OFFLINE_STORE_TYPE
    # deltalake's storage options for the lakehouse (lakehouse.storage_options).
    storage_options: dict[str, str] = {}


class DeltaDuckDBOfflineStore(DuckDBOfflineStore):
    @staticmethod
    def pull_latest_from_table_or_query(config: Any, data_source: Any, join_key_columns: Any,
                                        feature_name_columns: Any, timestamp_field: Any,
                                        created_timestamp_column: Any, start_date: Any,
                                        end_date: Any) -> Any:
        return pull_latest_from_table_or_query_ibis(
            config=config, data_source=data_source, join_key_columns=join_key_columns,
            feature_name_columns=feature_name_columns, timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column, start_date=start_date,
            end_date=end_date, **_io(config))

    @staticmethod
    def get_historical_features(config: Any, feature_views: Any, feature_refs: Any,
                                entity_df: Any, registry: Any, project: str,
                                full_feature_names: bool = False,
                                filter_by_created_timestamp: bool = False) -> Any:
        return get_historical_features_ibis(
            config=config, feature_views=feature_views, feature_refs=feature_refs,
            entity_df=entity_df, registry=registry, project=project,
            full_feature_names=full_feature_names,
            filter_by_created_timestamp=filter_by_created_timestamp, **_io(config))

    @staticmethod
    def pull_all_from_table_or_query(config: Any, data_source: Any, join_key_columns: Any,
                                     feature_name_columns: Any, timestamp_field: Any,
                                     created_timestamp_column: Any = None,
                                     start_date: Any = None, end_date: Any = None) -> Any:
        return pull_all_from_table_or_query_ibis(
            config=config, data_source=data_source, join_key_columns=join_key_columns,
            feature_name_columns=feature_name_columns, timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column, start_date=start_date,
            end_date=end_date, **_io(config))


def retrieval_frame(job: Any) -> pd.DataFrame:
    """A Feast retrieval job's rows as pandas, integer features kept integers with
    nulls (``Int64``): Feast's ``to_df`` turns an int64 column with any null (the
    last_* features of a user with fewer workouts) into floats."""
    return job.to_arrow().to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
