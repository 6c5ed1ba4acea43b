"""A module's graph is looked at before it runs: operations that touch the world outside the
computation are refused by name (nothing runs, nothing is written), allowed by setting, and
listed by finetune.inspect; ordinary modules, assets included, pass."""

import json
import os
import shutil

import pytest
import tensorflow as tf
import tensorflow_hub as hub
from tensorflow.core.protobuf import saved_model_pb2

from finetune import api
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


# Ops no list of known-bad ops named: refused because they are not on the allow-list.
NOT_ALLOWED = {
    "CacheDataset": ("its argument 'filename'", lambda t: lambda p: tf.data.Dataset.
                       from_tensors(p).cache(str(t / "cache"))._variant_tensor),
    "RecordInput": ("its argument 'file_pattern'",
                    lambda t: lambda p: tf.raw_ops.RecordInput(file_pattern="/etc/host*")),
    "FixedUnigramCandidateSampler": ("its argument 'vocab_file'", lambda t: lambda p: tf.random.
                                     fixed_unigram_candidate_sampler(
                                         true_classes=tf.zeros([1, 1], tf.int64), num_true=1,
                                         num_sampled=1, unique=True, range_max=2,
                                         vocab_file="/etc/hostname")[0]),
    "Timestamp": ("is not on finetune's allow-list of pure computation",
                  lambda t: lambda p: tf.cast(tf.timestamp(), tf.float32)),
}


@pytest.mark.parametrize("op", sorted(NOT_ALLOWED))
def test_op_off_the_allow_list_is_refused_by_name_and_allowed_by_setting(tmp_path, op):
  why, side_effect = NOT_ALLOWED[op]
  handle = risky_module(str(tmp_path / "module"), side_effect(tmp_path))
  found = {f.op: f.why for f in graph_scan.scan(handle)}
  assert why in found[op]
  with pytest.raises(FinetuneError) as refused:
    _ = HubModule(handle=handle).spec
  assert f"hub_module.allowed_ops = {sorted(found)!r}" in str(refused.value)
  assert HubModule(handle=handle, allowed_ops=sorted(found)).spec.get_signature_names() == [
      "default"]
  assert not (tmp_path / "cache.index").exists()


def test_allow_list_holds_only_reviewed_kinds_of_op():
  """The rules op_allow_list's docstring states, checked against TensorFlow's op registry: no
  allowed op takes a file, builds an input pipeline, writes summaries, calls Python or talks to
  other machines, and every stateful one was reviewed by name."""
  import tensorflow_text  # noqa: F401  pylint: disable=unused-import,g-import-not-at-top
  from tensorflow.python.framework import op_def_registry  # pylint: disable=g-import-not-at-top
  from finetune.modules import op_allow_list  # pylint: disable=g-import-not-at-top
  forbidden = ("Dataset", "Iterator", "Reader", "Queue", "Summary", "PyFunc", "Save", "Restore",
               "Send", "Recv", "Collective", "File", "Debug", "TPU")
  for op in sorted(op_allow_list.ALLOWED):
    op_def = op_def_registry.get(op)
    assert op_def is not None, f"{op} is not a registered op"
    arguments = {a.name for a in op_def.input_arg} | {a.name for a in op_def.attr}
    if op not in op_allow_list.CHECKED_BY_VALUE:
      assert not arguments & op_allow_list.FILE_ARGUMENTS, op
    assert not any(word in op for word in forbidden), op
    if op_def.is_stateful:
      assert op in op_allow_list.IN_MEMORY_STATE | op_allow_list.TEXT, op
  known_outside = {"WriteFile", "ReadFile", "MatchingFiles", "SaveV2", "RestoreV2", "PyFunc",
                   "EagerPyFunc", "CreateSummaryFileWriter", "CacheDataset", "CacheDatasetV2", "RecordInput",
                   "FixedUnigramCandidateSampler", "ImmutableConst", "Abort", "Timestamp",
                   "DecodeProtoV2", "DataServiceDatasetV4", "RemoteCall", "MergeV2Checkpoints"}
  assert not known_outside & op_allow_list.ALLOWED
  assert len(op_allow_list.COMPUTATION) > 700  # TensorFlow's math, array, nn, string, image ops


def test_inspect_lists_what_it_found_in_text_and_json(tmp_path):
  handle = risky_module(str(tmp_path / "module"), write_file(str(tmp_path / "outside.txt")))
  text = helpers.python_module("finetune.inspect", handle)
  assert text.returncode == 0, text.stderr
  assert "operations outside the allow-list: 1" in text.stdout
  assert "WriteFile (node 'WriteFile', default): it reads or writes files (its argument 'filename')" in text.stdout
  # What `--format=json` prints (the command's JSON output: test_inspect.py), from the API.
  described = json.loads(json.dumps(api.inspect(handle)))
  assert [v["outside_ops"] for v in described["variants"]] == [[{
      "op": "WriteFile", "node": "WriteFile", "signatures": ["default"],
      "why": "reads or writes files (its argument 'filename')"}]]
  assert not (tmp_path / "outside.txt").exists()  # inspecting does not run it


def test_example_and_test_modules_pass_the_scan(digits_module, text_module, image_example,
                                                bert_module):
  """Including the text module, whose vocabulary table reads its own asset file."""
  handles = [digits_module, text_module, bert_module, image_example["image_feature_vector"],
             image_example["image_classification"]]
  for handle in handles:
    assert graph_scan.scan(handle) == [], handle


def test_symlink_inside_a_local_module_folder_is_refused(tmp_path, text_module):
  """An asset that is a link would be copied, with what it points to, into every export."""
  path = tmp_path / "module"
  shutil.copytree(text_module, path)
  asset = next((path / "assets").iterdir())
  outside = tmp_path / "outside.txt"
  shutil.copy(asset, outside)
  asset.unlink()
  asset.symlink_to(outside)
  with pytest.raises(FinetuneError, match=f"holds a symbolic link: assets/{asset.name} -> "
                     f"{outside}. Exports copy"):
    _ = HubModule(handle=str(path)).spec
  asset.unlink()
  shutil.copy(outside, asset)
  (tmp_path / "link").symlink_to(path)  # the folder itself may be a link (a deployment alias)
  assert HubModule(handle=str(tmp_path / "link")).spec.get_signature_names()
