"""A module's graph is looked at before it runs: operations that touch the world outside the
computation are refused by name (nothing runs, nothing is written), allowed by setting, and
listed by finetune.inspect; ordinary modules, assets included, pass."""

import json
import os

import pytest
import tensorflow as tf
import tensorflow_hub as hub
from tensorflow.core.protobuf import saved_model_pb2

from finetune.errors import FinetuneError
from finetune.modules import graph_scan
from finetune.modules.hub_module import HubModule
from tests import helpers


def risky_module(path, side_effect):
  """A digits-shaped module (pixels [?, 64] -> default [?, 4]) whose output also runs
  `side_effect(pixels)` (an op, or a tensor added to the output)."""

  def module_fn():
    pixels = tf.compat.v1.placeholder(tf.float32, [None, 64], name="pixels")
    kernel = tf.compat.v1.get_variable("kernel", [64, 4])
    extra = side_effect(pixels)
    output = tf.matmul(pixels, kernel)
    if isinstance(extra, tf.Tensor) and extra.dtype == tf.float32:
      output += extra
    else:
      with tf.control_dependencies([extra]):
        output = tf.identity(output)
    hub.add_signature("default", inputs={"pixels": pixels}, outputs=output)

  spec = hub.create_module_spec(module_fn)
  with tf.Graph().as_default():
    module = hub.Module(spec)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      module.export(path, session)
  return path


def write_file(target):
  return lambda pixels: tf.io.write_file(target, "written by the module")


SIDE_EFFECTS = {
    "WriteFile": lambda t: write_file(str(t / "outside.txt")),
    "ReadFile": lambda t: lambda p: tf.cast(tf.strings.length(tf.io.read_file("/etc/hostname")),
                                            tf.float32),
    "MatchingFiles": lambda t: lambda p: tf.cast(tf.size(tf.io.matching_files("/tmp/*")),
                                                 tf.float32),
    "SaveV2": lambda t: lambda p: tf.raw_ops.SaveV2(prefix=str(t / "ckpt"), tensor_names=["p"],
                                                    shape_and_slices=[""], tensors=[p]),
    "PrintV2": lambda t: lambda p: tf.raw_ops.PrintV2(
        input=tf.strings.as_string(tf.reduce_sum(p)), output_stream=f"file://{t}/printed.txt"),
    "CSVDatasetV2": lambda t: lambda p: tf.data.experimental.CsvDataset(
        "/etc/hostname", [tf.string])._variant_tensor,
    "CreateSummaryFileWriter": lambda t: lambda p: tf.raw_ops.CreateSummaryFileWriter(
        writer=tf.raw_ops.SummaryWriter(), logdir=str(t / "logs"), max_queue=1,
        flush_millis=1, filename_suffix=".x"),
}


@pytest.mark.parametrize("op", sorted(SIDE_EFFECTS))
def test_risky_op_is_refused_before_anything_runs(tmp_path, op):
  handle = risky_module(str(tmp_path / "module"), SIDE_EFFECTS[op](tmp_path))
  with pytest.raises(FinetuneError) as refused:
    helpers.run(tmp_path / "model", handle, ["optimization.optimizer = "
                                             "@tf.train.GradientDescentOptimizer"])
  message = str(refused.value)
  assert " (node '" in message and "in signature 'default' of graph variant set()" in message
  assert f"'{op}'" in message.split("hub_module.allowed_ops = ")[1]  # the setting that allows it
  assert "hub_module.trusted = True" in message
  assert not (tmp_path / "model").exists()
  assert not [p for p in ("outside.txt", "ckpt.index", "logs", "printed.txt")
              if (tmp_path / p).exists()]


def test_allowed_op_runs_and_is_recorded_in_the_operative_config(tmp_path):
  target = tmp_path / "outside.txt"
  handle = risky_module(str(tmp_path / "module"), write_file(str(target)))
  helpers.run(tmp_path / "model", handle, ["hub_module.allowed_ops = ['WriteFile']"],
              train_steps=2)
  assert target.exists()  # it was allowed, so it ran
  assert "hub_module.allowed_ops = ['WriteFile']" in (tmp_path / "model" /
                                                       "operative_config.gin").read_text()
  target.unlink()
  helpers.run(tmp_path / "trusted", handle, ["hub_module.trusted = True"], train_steps=2)

  assert target.exists()


def test_op_outside_tensorflow_is_refused(tmp_path, digits_module):
  path = tmp_path / "module"
  os.system(f"cp -r {digits_module} {path}")
  saved_model = saved_model_pb2.SavedModel()
  saved_model.ParseFromString((path / "saved_model.pb").read_bytes())
  saved_model.meta_graphs[0].graph_def.node.add(name="mystery", op="NotATensorFlowOp")
  (path / "saved_model.pb").write_bytes(saved_model.SerializeToString())
  with pytest.raises(FinetuneError, match="NotATensorFlowOp \\(node 'mystery'\\) in no signature "
                     ".* is not one of TensorFlow's own operations"):
    _ = HubModule(handle=str(path)).spec


def test_inspect_lists_what_it_found_in_text_and_json(tmp_path):
  handle = risky_module(str(tmp_path / "module"), write_file(str(tmp_path / "outside.txt")))
  text = helpers.python_module("finetune.inspect", handle)
  assert text.returncode == 0, text.stderr
  assert "operations touching the outside: 1" in text.stdout
  assert "WriteFile (node 'WriteFile', default): it reads or writes files" in text.stdout
  described = json.loads(helpers.python_module("finetune.inspect", handle, "--format=json").stdout)
  assert [v["outside_ops"] for v in described["variants"]] == [[{
      "op": "WriteFile", "node": "WriteFile", "signatures": ["default"],
      "why": "reads or writes files"}]]
  assert not (tmp_path / "outside.txt").exists()  # inspecting does not run it


def test_example_and_test_modules_pass_the_scan(digits_module, text_module, image_example,
                                                bert_module):
  """Including the text module, whose vocabulary table reads its own asset file."""
  handles = [digits_module, text_module, bert_module, image_example["image_feature_vector"],
             image_example["image_classification"]]
  for handle in handles:
    assert graph_scan.scan(handle) == [], handle
