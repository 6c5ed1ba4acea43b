"""What kind of computation a module's graph does, read from its saved_model.pb.

Used to choose session settings that depend on the module: Grappler's arithmetic optimizer
rewrites `embedding_lookup_sparse` (a gather feeding a SparseSegment* op) to read the whole
table each step, which costs a trained big-vocabulary table a full copy per step.
"""

import os

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

SPARSE_SEGMENT_OPS = {
    "SparseSegmentSum", "SparseSegmentMean", "SparseSegmentSqrtN",
    "SparseSegmentSumWithNumSegments", "SparseSegmentMeanWithNumSegments",
    "SparseSegmentSqrtNWithNumSegments"
}


def op_types(module_dir):
  """Every op type in every graph and function of the SavedModel under `module_dir`."""
  saved_model = saved_model_pb2.SavedModel()
  with tf.io.gfile.GFile(os.path.join(module_dir, "saved_model.pb"), "rb") as f:
    saved_model.ParseFromString(f.read())
  types = set()
  for meta_graph in saved_model.meta_graphs:
    types.update(node.op for node in meta_graph.graph_def.node)
    for function in meta_graph.graph_def.library.function:
      types.update(node.op for node in function.node_def)
  return types


def has_sparse_lookups(module_dir):
  """True if the module combines embedding rows with SparseSegment* ops."""
  return bool(op_types(module_dir) & SPARSE_SEGMENT_OPS)
