"""Spark and Delta without Delta's jars: read a table's current snapshot, and commit files
Spark wrote, through delta-rs.

Local tables (a path): reading takes the snapshot's data files
(``DeltaTable.file_uris()``) and lets Spark read them as Parquet, with the table
directory as the base path so partition columns come back from the Hive-style paths.
Writing lets Spark write Parquet into a fresh directory inside the table, then commits
those files in one Delta transaction (``create_write_transaction``), so readers see all
of a job's output or none of it.

Object stores (``s3://…``, the production lakehouse on MinIO): Spark here has no S3
connector (no S3A jars, and Maven is out of reach), so the data passes through the
driver. Reading loads the snapshot with delta-rs (which speaks S3 with the lakehouse's
``storage_options``) into Arrow and hands it to Spark; writing collects the result as
Arrow (``DataFrame.toArrow``) and commits it with ``write_deltalake``, one transaction
as well. The driver therefore holds a table at a time: right for these jobs' tables
(bronze of a few million events, one row per workout, per user-day, per snapshot); a
larger lakehouse needs Spark's S3A connector, with the same commit.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import unquote

import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema, write_deltalake
from deltalake.transaction import AddAction, create_table_with_add_actions
from pyspark.sql import DataFrame, SparkSession


def is_object_store(uri: str) -> bool:
    """A URI Spark cannot open here (``s3://``, ``gs://``…); ``file://`` and paths it can."""
    return "://" in uri and not uri.startswith("file://")


def read_snapshot(spark: SparkSession, uri: str, storage_options: dict | None = None,
                  ) -> DataFrame:
    """The table's current version as a DataFrame (an empty table reads as its schema)."""
    table = DeltaTable(uri, storage_options=storage_options)
    files = table.file_uris()
    if not files:
        return spark.createDataFrame(table.schema().to_arrow().empty_table().to_pandas())
    if is_object_store(uri):
        return spark.createDataFrame(table.to_pyarrow_table())
    return spark.read.option("basePath", uri).parquet(*files)


def write_table(df: DataFrame, uri: str, partition_by: list[str], mode: str = "overwrite",
                storage_options: dict | None = None) -> int:
    """Write ``df`` as the table's new content (``overwrite``) or more of it (``append``),
    in one Delta commit; returns the number of files committed."""
    if is_object_store(uri):
        return _write_through_driver(df, uri, partition_by, mode, storage_options)
    root = Path(uri)
    staging = f"job-{uuid.uuid4().hex[:12]}"
    (df.write.mode("errorifexists").partitionBy(*partition_by)
     .option("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
     .parquet(str(root / staging)))
    actions = []
    for path in sorted((root / staging).rglob("*.parquet")):
        relative = path.relative_to(root).as_posix()
        values = dict(unquote(part).split("=", 1) for part in path.parent.relative_to(
            root / staging).parts)
        actions.append(AddAction(
            path=relative, size=path.stat().st_size,
            partition_values={k: (None if v == "__HIVE_DEFAULT_PARTITION__" else v)
                              for k, v in values.items()},
            modification_time=int(path.stat().st_mtime * 1000), data_change=True,
            stats=f'{{"numRecords": {pq.read_metadata(path).num_rows}}}'))
    schema = pq.read_schema(next((root / staging).rglob("*.parquet"))) if actions else None
    if not DeltaTable.is_deltatable(uri):
        os.makedirs(uri, exist_ok=True)
        create_table_with_add_actions(
            uri, Schema.from_arrow(_with_partitions(schema, df, partition_by)), actions,
            mode="overwrite", partition_by=partition_by)
    else:
        table = DeltaTable(uri)
        table.create_write_transaction(actions, mode=mode, schema=table.schema(),
                                       partition_by=partition_by)
    return len(actions)


def _write_through_driver(df: DataFrame, uri: str, partition_by: list[str], mode: str,
                          storage_options: dict | None) -> int:
    """The object-store write: the result as Arrow on the driver, one delta-rs commit."""
    exists = DeltaTable.is_deltatable(uri, storage_options=storage_options)
    before = (set(DeltaTable(uri, storage_options=storage_options).file_uris())
              if exists and mode == "append" else set())
    data = df.toArrow()
    # overwrite replaces the content and, like the local path's new table, takes the
    # job's schema; append must fit the table's.
    write_deltalake(uri, data, mode=mode, partition_by=partition_by or None,
                    storage_options=storage_options,
                    schema_mode="overwrite" if mode == "overwrite" and exists else None)
    after = set(DeltaTable(uri, storage_options=storage_options).file_uris())
    return len(after - before)


def _with_partitions(schema, df: DataFrame, partition_by: list[str]):
    """Parquet files of a partitioned write lack the partition columns: add them back."""
    import pyarrow as pa

    fields = list(schema) if schema is not None else []
    types = dict(df.dtypes)
    for name in partition_by:
        fields.append(pa.field(name, pa.string() if types[name] == "string" else pa.int64()))
    return pa.schema(fields)
