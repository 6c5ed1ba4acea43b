"""A file of word vectors -> a text-embedding module at a new path, whole or not at all.

The module is written beside its final path and renamed into place only when complete, so an
interrupted or failed export leaves nothing behind, and an existing path is never touched.
"""

import dataclasses
import logging
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from finetune.embeddings import module_options
from finetune.embeddings import tf1_module
from finetune.embeddings import tf2_module
from finetune.embeddings import vector_files
from finetune.errors import FinetuneError
from finetune.process import signals

MODULE_FORMATS = {"tf1": tf1_module, "tf2": tf2_module}
VOCABULARY_FILE = "tokens.txt"
log = logging.getLogger("finetune")


@dataclasses.dataclass
class Published:
  """What was written: where, in which format, and what it holds."""
  export_path: str
  module_format: str
  words: int
  dim: int
  num_oov_buckets: int
  unreachable_words: int  # words with capitals that a lower-casing module never looks up


def publish(embedding_file, export_path, vocabulary_file=None, input_format="auto",
            num_lines_to_ignore=0, num_lines_to_use=None, options=None, module_format="tf1"):
  """Reads `embedding_file` (vector_files.py) and writes it as a module at `export_path`.

  The table is staged in files (the words, and the rows of a text file), so memory holds
  only the module's own copy of it (tf1_module.export).

  Raises:
    FinetuneError: a bad file, option or path (nothing is written).
  """
  options = options or module_options.ModuleOptions()
  exporter = _exporter(module_format)
  if module_format == "tf2":
    tf2_module.check_options(options)
  _check_new_path(export_path)
  with tempfile.TemporaryDirectory(prefix="finetune-vocabulary-") as scratch:
    with signals.phase(f"reading {embedding_file}"):
      table = vector_files.stage(embedding_file, os.path.join(scratch, VOCABULARY_FILE),
                                 os.path.join(scratch, "rows.f32"), vocabulary_file,
                                 input_format, num_lines_to_ignore, num_lines_to_use)
    log.info("read %s vectors of dim %d from %s", f"{table.words:,}", table.dim,
             embedding_file)
    export_path = _write(table.vocabulary_file, table.rows, export_path, options, exporter)
  unreachable = table.capitalized_words if options.lowercase else 0
  return Published(export_path, module_format, table.words, table.dim,
                   options.num_oov_buckets, unreachable)


def write_module(words, vectors, export_path, options, module_format="tf1", exporter=None):
  """Writes `words` with `vectors` [len(words), dim] as a module at the new `export_path`."""
  exporter = exporter or _exporter(module_format)
  # An array (or a memory-mapped .npy) stays as it is: the writers read it a slice at a time.
  vectors = vectors if isinstance(vectors, np.ndarray) else np.asarray(vectors, np.float32)
  if vectors.ndim != 2 or vectors.shape[0] != len(words):
    raise FinetuneError(f"{len(words)} words need a [{len(words)}, dim] matrix; got "
                        f"{list(vectors.shape)}.")
  with tempfile.TemporaryDirectory(prefix="finetune-vocabulary-") as scratch:
    vocabulary_file = os.path.join(scratch, VOCABULARY_FILE)
    with open(vocabulary_file, "w", encoding="utf-8", errors="surrogateescape") as f:
      f.write("\n".join(words) + "\n")
    export_path = _write(vocabulary_file, vectors, export_path, options, exporter)
  unreachable = sum(1 for w in words if w != w.lower()) if options.lowercase else 0
  return Published(export_path, module_format, len(words), vectors.shape[1],
                   options.num_oov_buckets, unreachable)


def _write(vocabulary_file, vectors, export_path, options, exporter):
  """Exports beside `export_path` and renames into place; returns the path as written."""
  _check_new_path(export_path)  # again: a long read gives time for the path to appear
  remote = "://" in export_path
  export_path = export_path if remote else export_path.rstrip("/") or "/"
  target = export_path if remote else f"{export_path}.partial-{os.getpid()}"
  complete = False
  try:
    parent = os.path.dirname(os.path.abspath(export_path)) if not remote else None
    if parent:
      os.makedirs(parent, exist_ok=True)
    with signals.phase(f"writing the module to {export_path}",
                       advice="Nothing was written; run the same command again."):
      exporter.export(target, vocabulary_file, vectors, options)
      if not remote:
        os.rename(target, export_path)
    complete = True
  finally:
    if not complete and not remote:
      shutil.rmtree(target, ignore_errors=True)
  return export_path


def _exporter(module_format):
  if module_format not in MODULE_FORMATS:
    raise FinetuneError(f"--format={module_format} is not a module format; use one of: "
                        f"{', '.join(MODULE_FORMATS)}.")
  return MODULE_FORMATS[module_format]


def _check_new_path(export_path):
  if not export_path:
    raise FinetuneError("Pass --export_path=DIR, a new folder for the module.")
  if tf.io.gfile.exists(export_path):
    raise FinetuneError(f"--export_path {export_path} exists; a module is written only to a new "
                        "path, so nothing there is replaced. Pick another path or remove it.")
