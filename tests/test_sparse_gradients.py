"""An embedding table's gradient stays sparse from the loss to the update, through every
part of the training path (clipping, the gradient-norm summary, the two optimizers of the
module learning-rate multiplier, replicas, the in-graph loop): no op computes over the
whole table, which is what makes a 100M-row table train at the speed of a batch's rows."""

import numpy as np
import pytest
import tensorflow as tf

from examples.text import module as text_module
from finetune.inputs.csv_data import CsvData
from finetune.training import heads
from tests import helpers

VOCABULARY = [text_module.EMPTY_TOKEN, "return", "the", "sine", "of", "x", "open", "file"]
ROWS, DIM = len(VOCABULARY) + 29, 8  # 37 x 8: a shape no other tensor here has
# What may hold a whole table: the variables, their reads, initial values and the saver.
STORAGE = {"VarHandleOp", "VariableV2", "ReadVariableOp", "Identity", "Const", "Fill",
           "Assign", "AssignVariableOp", "RestoreV2", "SaveV2",
           "Placeholder"}  # hub.Module imports its graph with placeholders for the variables


@pytest.fixture(scope="module")
def table_handle(tmp_path_factory):
  """A text module whose table has no regularizer (whose gradient would be dense)."""
  path = str(tmp_path_factory.mktemp("sparse") / "embedding")
  embeddings = np.eye(len(VOCABULARY), DIM, dtype=np.float32)
  text_module.export(path, VOCABULARY, embeddings, num_oov_buckets=29, l2=0.0)
  return path


class FullTableOps(tf.compat.v1.train.SessionRunHook):
  """Records the ops of the training graph with an output of the table's shape that do
  arithmetic on it (anything but storage, initialization and the saver)."""

  def __init__(self):
    self.found = None

  def begin(self):
    ops = tf.compat.v1.get_default_graph().get_operations()
    self.found = sorted({
        f"{op.type} {op.name}" for op in ops
        if op.type not in STORAGE and "/Initializer/" not in op.name and
        not op.name.startswith("save") and any(_is_table(t) for t in op.outputs)
    })


def _is_table(tensor):
  return tensor.shape.rank == 2 and tensor.shape.as_list() == [ROWS, DIM]


def train_graph_ops(tmp_path, handle, bindings):
  rows = [("Return the sine of x.", "math"), ("Open the file.", "files"), ("x", "other")] * 4
  path = tmp_path / "train.csv"
  path.write_text("text,area\n" + "".join(f'"{t}",{a}\n' for t, a in rows))
  data = CsvData(train_files=str(path), eval_files=str(path), label_column="area", column_types={"text": "string"},
                 batch_size=4)
  hook = FullTableOps()
  helpers.run(tmp_path / "model", handle, bindings, data=data, train_steps=2, schedule="train",
              head=heads.multi_class_head(3, ["files", "math", "other"]), train_hooks=[hook],
              input_mapping={"default": "text"})
  assert helpers.checkpoint_step(str(tmp_path / "model")) == 2
  return hook.found


@pytest.mark.parametrize("optimizer,more", [
    ("@LazyAdamOptimizer", ["optimization.clip_gradient_norm = 1.0",
                            "optimization.module_learning_rate_multiplier = 0.1",
                            "run_config.num_replicas = 2"]),
    ("@LazyAdamWOptimizer", ["training.steps_per_run = 2",
                             "optimization.clip_gradient_norm = 1.0"]),
    ("@tf.train.AdagradOptimizer", ["optimization.clip_gradient_norm = 1.0"]),
])
def test_no_op_computes_over_the_whole_table(tmp_path, table_handle, optimizer, more):
  found = train_graph_ops(tmp_path, table_handle, [f"optimization.optimizer = {optimizer}"] + more)
  assert not found, f"ops over the whole {ROWS} x {DIM} table: {found}"


def test_dense_adam_does_compute_over_the_whole_table(tmp_path, table_handle):
  """The check above can fail: TF1's Adam decays both moment tables densely every step."""
  found = train_graph_ops(tmp_path, table_handle, ["optimization.optimizer = @tf.train.AdamOptimizer"])
  assert any(op.startswith(("Mul ", "AddV2 ", "Sub ")) for op in found), found
