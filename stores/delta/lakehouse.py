"""The lakehouse's tables as Delta tables: where each lives, opening, creating and
appending to them with the settings' storage options (a local directory or S3)."""

from __future__ import annotations

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from fitstream.settings import FitStreamSettings
from stores.delta.tables import PARTITIONS


class DeltaTables:
    """Paths, storage options and creation of the lakehouse tables."""

    def __init__(self, settings: FitStreamSettings) -> None:
        self.settings = settings
        self.options = settings.lakehouse.object_store_options()

    def uri(self, table: str) -> str:
        return self.settings.lakehouse_uri(table)

    def exists(self, table: str) -> bool:
        return DeltaTable.is_deltatable(self.uri(table), storage_options=self.options)

    def ensure(self, table: str, schema: pa.Schema) -> None:
        if not self.exists(table):
            DeltaTable.create(self.uri(table), schema, partition_by=PARTITIONS[table],
                              mode="ignore", storage_options=self.options)

    def open(self, table: str) -> DeltaTable:
        return DeltaTable(self.uri(table), storage_options=self.options)

    def version_of(self, table: str, app_id: str) -> int | None:
        return self.open(table).transaction_version(app_id)

    def append(self, table: str, rows: pa.Table, transactions: list[Transaction]) -> None:
        write_deltalake(self.uri(table), rows, mode="append", schema_mode="merge",
                        partition_by=PARTITIONS[table], storage_options=self.options,
                        commit_properties=CommitProperties(app_transactions=transactions))
