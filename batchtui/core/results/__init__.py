"""A batch's results as people read them: the index that joins input, output and error lines by custom_id (with its C
line scanner), the readers of request and response records, search, export to CSV and JSONL, curl commands, and the
rows a retry sends again."""
