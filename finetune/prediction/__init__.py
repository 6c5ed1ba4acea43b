"""Batch prediction on files a model has never seen: which checkpoint, the output rows in the
user's terms, streamed to JSON Lines or CSV."""
