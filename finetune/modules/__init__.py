"""The pretrained module: handles (paths, gs://, http(s) archives and the cache), the
HubModule that validates and instantiates a TF1 Hub module, and inspection of what it offers."""
