"""The local SQLite cache: the store of batches, files, observations and downloads with its schema, migrations and
recovery; llm_logs, one row per request for SQL; and read-only SQL over it all."""
