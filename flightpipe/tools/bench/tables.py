"""Files per bronze and silver table: the small-files check of a bench case."""

from __future__ import annotations

from flightpipe.core import storage


def table_files(bronze: str, warehouse: str) -> dict:
    """Data files, total and average size, and partitions, of every bronze and silver table.

    Hidden and metadata entries (.staging, _spark_metadata, _temporary, .crc files) hold no
    table data; :func:`flightpipe.core.storage.list_files` leaves them out.
    """
    found: dict[str, dict] = {}
    folders = [d for d in storage.list_dirs(str(bronze)) if not storage.name(d).startswith(".")]
    # The rejects folder is listed last, after the tables.
    tables = [("bronze", d) for d in folders if storage.name(d) != "_rejected"]
    tables += [("bronze", d) for d in folders if storage.name(d) == "_rejected"]
    for db in storage.list_dirs(str(warehouse)):
        if storage.name(db).endswith(".db"):
            tables += [(storage.name(db).removesuffix(".db"), d) for d in storage.list_dirs(db)]
    for layer, folder in tables:
        files = storage.list_files(folder)
        size = sum(f.size for f in files)
        leaf_dirs = {storage.parent(f.path) for f in files}
        found[f"{layer}.{storage.name(folder)}"] = {
            "files": len(files),
            "mb": round(size / 1e6, 1),
            "avg_file_mb": round(size / 1e6 / len(files), 2) if files else 0.0,
            "partitions": len(leaf_dirs),
            "files_per_partition": round(len(files) / len(leaf_dirs), 1) if leaf_dirs else 0.0,
        }
    return found
