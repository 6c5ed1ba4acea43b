"""Values that would be silently wrong are refused: a boolean takes True or False only (gin
passes a quoted 'no' through as a string, which Python takes as true, so
`hub_module.trainable = 'no'` would fine-tune the module), an empty model_dir is no
model_dir, a macro nothing reads is a typo, a TFRecord file cut inside a record header is
truncated, and a device is not a file (reading /dev/zero never ends)."""

import os

import pytest

from finetune import FinetuneError
from finetune import api


@pytest.mark.parametrize("binding", [
    "hub_module.trainable = 'no'",
    "hub_module.trusted = 'yes'",
    "csv_data.cache = 0",
    "run_config.mixed_precision = 'False'",
    "run_config.save_graph_def = 1",
    "run_config.arithmetic_optimization = 'off'",
    "evaluation.best_export_higher_is_better = 'no'",
])
def test_a_boolean_given_as_anything_else_is_refused_by_name(tmp_path, digits_module, binding):
  parameter = binding.split(" =")[0]
  with pytest.raises(FinetuneError) as raised:
    api.train(["digits/finetune.gin"], [f"MODULE_HANDLE = '{digits_module}'", binding],
              model_dir=str(tmp_path / "run"))
  assert f"{parameter.split('.')[-1]}" in str(raised.value)
  assert "True or False (unquoted)" in str(raised.value)
  assert not (tmp_path / "run").exists()


def test_an_empty_model_dir_is_refused_not_taken_as_the_default(tmp_path, monkeypatch):
  """`--model_dir=$UNSET_VARIABLE` must not resume runs/<config> of the working directory."""
  monkeypatch.chdir(tmp_path)
  for empty in ("", "  "):
    with pytest.raises(FinetuneError, match="model_dir is empty"):
      api.train(["digits/finetune.gin"], [], model_dir=empty)
  assert not (tmp_path / "runs").exists()


def test_a_macro_that_nothing_reads_is_named_with_the_closest_read_one(tmp_path, digits_module):
  with pytest.raises(FinetuneError) as raised:
    api.train(["digits/finetune.gin"], [f"MODULE_HANDLE = '{digits_module}'", "TRAIN_STEP = 10"],
              model_dir=str(tmp_path / "run"))
  assert "Macro TRAIN_STEP is set but nothing in the config reads it" in str(raised.value)
  assert "did you mean TRAIN_STEPS?" in str(raised.value)
  assert not (tmp_path / "run").exists()


def test_a_tfrecord_file_cut_inside_a_record_header_is_refused(tmp_path, digits_module):
  """TensorFlow's reader stops at a cut header without a word: training would use the records
  before it. Four whole records, then 5 bytes of a fifth record's 12-byte header."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path = tmp_path / "cut.tfrecord"
  example = tf.train.Example(features=tf.train.Features(feature={
      "pixels": tf.train.Feature(float_list=tf.train.FloatList(value=[0.5] * 64)),
      "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))
  })).SerializeToString()
  with tf.io.TFRecordWriter(str(path)) as writer:
    for _ in range(5):
      writer.write(example)
  whole = path.read_bytes()
  path.write_bytes(whole[:4 * (len(whole) // 5) + 5])
  tfrecord = ["experiment.data = @tfrecord_data()", f"tfrecord_data.train_files = '{path}'",
              f"tfrecord_data.eval_files = '{path}'",
              "tfrecord_data.feature_spec = {'pixels': ('float', [64])}",
              "tfrecord_data.label_key = 'label'", "binary_class_head.label_vocabulary = None"]
  with pytest.raises(FinetuneError) as raised:
    api.train(["digits/finetune.gin"], [f"MODULE_HANDLE = '{digits_module}'"] + tfrecord,
              model_dir=str(tmp_path / "run"))
  assert "cut.tfrecord' is truncated: record 4 " in str(raised.value)
  assert "5 of its 12 header bytes" in str(raised.value)
  assert not (tmp_path / "run").exists()
  path.write_bytes(whole)  # whole again: it trains
  result = api.train(["digits/finetune.gin"],
                     [f"MODULE_HANDLE = '{digits_module}'", "TRAIN_STEPS = 2",
                      "learning_rate_schedule.warmup_steps = 0"] + tfrecord,
                     model_dir=str(tmp_path / "whole"))
  assert result.metrics["global_step"] == 2


@pytest.mark.parametrize("source", ["/dev/zero", "fifo"])
@pytest.mark.parametrize("what", ["data", "gin"])
def test_a_device_given_as_a_file_is_refused_instead_of_read_without_end(tmp_path, digits_module,
                                                                        what, source):
  """/dev/zero as a CSV grew to 23 GB of memory; as a gin file it was read without end. A
  FIFO nobody writes to would block the first read forever."""
  if source == "fifo":
    source = str(tmp_path / "fifo")
    os.mkfifo(source)
  bindings = [f"MODULE_HANDLE = '{digits_module}'"]
  gin_files = ["digits/finetune.gin"]
  if what == "data":
    bindings.append(f"csv_data.train_files = '{source}'")
  else:
    gin_files.append(source)
  with pytest.raises(FinetuneError, match=f"'{source}' is not a regular file"):
    api.train(gin_files, bindings, model_dir=str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()


def test_a_gin_file_far_larger_than_any_config_is_refused(tmp_path):
  huge = tmp_path / "huge.gin"
  huge.write_text("# " + "x" * 1_100_000 + "\n")
  with pytest.raises(FinetuneError, match="huge.gin' is 1,100,003 bytes"):
    api.train([str(huge)], [], model_dir=str(tmp_path / "run"))


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/elsewhere", "a/b", ".."])
def test_an_export_name_is_one_folder_name(tmp_path, digits_module, name):
  """hub_module.export_name becomes part of a path: '../../x' climbed out of export/ and an
  absolute name wrote the module there."""
  with pytest.raises(FinetuneError, match="must be one folder name"):
    api.train(["digits/finetune.gin"],
              [f"MODULE_HANDLE = '{digits_module}'", f"hub_module.export_name = {name!r}"],
              model_dir=str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()
