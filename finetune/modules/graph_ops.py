"""A module's saved_model.pb, read once, and what kind of computation its graph does.

Several checks read the same file before a module is used (the security scan, the variables
check, the format check, the sparse-lookup check): `read_saved_model` parses it once.
The sparse-lookup check chooses session settings that depend on the module: Grappler's
arithmetic optimizer rewrites `embedding_lookup_sparse` (a gather feeding a SparseSegment*
op) to read the whole table each step, which costs a trained big-vocabulary table a full
copy per step.
"""

import functools
import os

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

VARIABLE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable"})  # ops that create one
SPARSE_SEGMENT_OPS = {
    "SparseSegmentSum", "SparseSegmentMean", "SparseSegmentSqrtN",
    "SparseSegmentSumWithNumSegments", "SparseSegmentMeanWithNumSegments",
    "SparseSegmentSqrtNWithNumSegments"
}


def read_saved_model(module_dir):
  """The parsed saved_model.pb under `module_dir` (shared: do not modify it)."""
  path = os.path.join(module_dir, "saved_model.pb")
  stat = tf.io.gfile.stat(path)
  return _parsed(path, stat.mtime_nsec, stat.length)


@functools.lru_cache(maxsize=8)
def _parsed(path, mtime_nsec, length):  # the file's time and size: a rewritten file is reread
  del mtime_nsec, length
  saved_model = saved_model_pb2.SavedModel()
  with tf.io.gfile.GFile(path, "rb") as f:
    saved_model.ParseFromString(f.read())
  return saved_model


def op_types(module_dir):
  """Every op type in every graph and function of the SavedModel under `module_dir`."""
  saved_model = read_saved_model(module_dir)
  types = set()
  for meta_graph in saved_model.meta_graphs:
    types.update(node.op for node in meta_graph.graph_def.node)
    for function in meta_graph.graph_def.library.function:
      types.update(node.op for node in function.node_def)
  return types


def has_sparse_lookups(module_dir):
  """True if the module combines embedding rows with SparseSegment* ops."""
  return bool(op_types(module_dir) & SPARSE_SEGMENT_OPS)
