"""Making batch input files: templates filled from CSV, JSONL or XLSX rows, the batch file and its manifest, offline
validation as OpenAI validates, and splitting within the API's limits."""
