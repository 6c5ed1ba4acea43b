"""A module's variables, checked before anything runs: present, readable and whole.

A module copied without its variables/ folder, or a download cut short, otherwise fails deep
inside the first session with "Unsuccessful TensorSliceReader constructor" (or later, on a
truncated data file). The checks read the index only: the data files' sizes must hold every
tensor the index lists.
"""

import os

import numpy as np
import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.modules import graph_ops


FIX = ("Export the module again, or download it again (for a downloaded handle, delete its "
       "folder under TFHUB_CACHE_DIR).")


def _graph_has_variables(path):
  saved_model = graph_ops.read_saved_model(path)
  return any(node.op in graph_ops.VARIABLE_OPS for meta in saved_model.meta_graphs
             for node in meta.graph_def.node)


def check(handle, path):
  """Raises FinetuneError if the module at `path` lacks variables its graph uses, or if its
  variables data is shorter than its index says."""
  prefix = os.path.join(path, "variables", "variables")
  if not tf.io.gfile.exists(prefix + ".index"):
    if _graph_has_variables(path):
      raise FinetuneError(
          f"Module '{handle}' has variables in its graph but no variables/variables.index "
          f"under '{path}': the variables/ folder is missing or empty, so the module is "
          f"incomplete. {FIX}")
    return
  try:
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)  # load_checkpoint errs on ram://
  except (tf.errors.OpError, ValueError) as e:
    raise FinetuneError(f"Module '{handle}': its variables index could not be read "
                        f"({str(e).splitlines()[0]}). {FIX}") from e
  shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
  expected = sum(
      int(np.prod(shapes[name])) * dtype.size
      for name, dtype in dtypes.items()
      if dtype != tf.string)
  files = tf.io.gfile.glob(prefix + ".data-*")
  found = sum(tf.io.gfile.stat(f).length for f in files)
  if found < expected:
    raise FinetuneError(
        f"Module '{handle}': its variables data holds {found:,} bytes but its index lists "
        f"{expected:,}: the data file is truncated (a copy or download cut short). "
        f"{FIX}")
