"""``fitstream jobs compact``: optimize (bin-pack small files) and vacuum every lakehouse table.

Streaming writes many small files (one set per micro-batch); compaction rewrites them
into few large ones in a Delta commit that changes no row, so readers see the same
data before and after. Vacuum then deletes files no version within the retention
still references (default 7 days, Delta's own; time travel needs them until then).
Done with delta-rs, which compacts natively: Spark has no Delta jars here.
"""

from __future__ import annotations

from typing import Any

from deltalake import DeltaTable

from fitstream.settings import FitStreamSettings
from stores.delta.tables import ALL_TABLES


def compact(settings: FitStreamSettings, retention_hours: int = 168) -> list[dict[str, Any]]:
    """Per existing table: files before and after, rows (unchanged), files vacuumed."""
    options = settings.lakehouse.object_store_options()
    report = []
    for name in ALL_TABLES:
        uri = settings.lakehouse_uri(name)
        if not DeltaTable.is_deltatable(uri, storage_options=options):
            continue
        table = DeltaTable(uri, storage_options=options)
        before, rows = len(table.file_uris()), table.count()
        metrics = table.optimize.compact()
        table = DeltaTable(uri, storage_options=options)
        vacuumed = table.vacuum(retention_hours=retention_hours, dry_run=False,
                                enforce_retention_duration=retention_hours >= 168)
        report.append({"table": name, "files_before": before,
                       "files_after": len(table.file_uris()), "rows": rows,
                       "rows_after": table.count(),
                       "files_rewritten": metrics.get("numFilesRemoved", 0),
                       "files_vacuumed": len(vacuumed)})
    return report
