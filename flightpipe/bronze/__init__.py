"""Bronze: raw sources landed as parquet, batch (ingest) and streaming."""
