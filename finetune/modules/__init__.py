"""The pretrained module: handles (paths, gs://, http(s) archives and the cache), its
definition files checked before anything reads them (module_files.py), the
HubModule that validates and instantiates a TF1 Hub module or (through tf2_module.py) a TF2
SavedModel, the graph scan, and inspection of what it offers."""
