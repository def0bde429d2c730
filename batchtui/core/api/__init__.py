"""Talking to the Batch and Files API: the service over the official SDK (every answer made sane), downloads into the
cache or a chosen folder, the incremental sync of the batch list, and the one back-off policy for every loop that
calls again."""
