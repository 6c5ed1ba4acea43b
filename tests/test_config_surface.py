"""Every parameter of every configurable finetune registers, tried with what a user gets wrong:
a value of the wrong type, empty values, None, a negative and a huge number, and a misspelled
name. Each attempt runs `--schedule=check` (every check of a training and its graph built
once, nothing written) and must either work or end in one FinetuneError that is not an
"unexpected" one, with the model_dir untouched. The parameters are enumerated from gin's
registry, so a parameter added later is tried without anyone writing its case."""

import os

import pytest
import tensorflow as tf

from finetune import api
from finetune import parameters
from finetune.errors import FinetuneError
from finetune.errors import UnexpectedError
from tests import builders

BAD_VALUES = ("{'wrong': 'type'}", "''", "None", "-1", "10000000000", "['zzz']")

# Which config uses each configurable, so that a bad value is actually read.
CONTEXT = {
    "multi_class_head": "multi_class",
    "multi_label_head": "multi_label",
    "tfrecord_data": "tfrecord",
    "regression_head": "regression",
    "early_stopping": "early_stopping",
    "AdamWOptimizer": "adamw",
    "LazyAdamOptimizer": "lazy_adam",
    "LazyAdamWOptimizer": "lazy_adamw",
    "tpu_runtime": "tpu",
    "image_folder_data": "images",
    "Augmentation": "images",
    "bert_tokenization": "bert",
    "token_tagging_head": "bert",
}
# Read only while downloading a module (an http handle not yet cached): tests/test_downloads.py.
NOT_READ_IN_A_CHECK = {"download"}


def _configurables():
  return [name for name, _ in parameters.configurables() if name not in NOT_READ_IN_A_CHECK]


def _write_tfrecord(path):
  (pixels, labels), _ = [(f["pixels"], y) for f, y in builders.finetune_arrays()]
  with tf.io.TFRecordWriter(str(path)) as writer:
    for row, label in zip(pixels[:64], labels[:64]):
      writer.write(tf.train.Example(features=tf.train.Features(feature={
          "pixels": tf.train.Feature(float_list=tf.train.FloatList(value=row)),
          "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
          "score": tf.train.Feature(float_list=tf.train.FloatList(value=[label * 0.5])),
      })).SerializeToString())
  return str(path)


def _context(name, request, tmp_path):
  """(gin files, bindings) of a config that reads the configurables CONTEXT maps to `name`."""
  if name == "images":
    images = request.getfixturevalue("image_example")
    return ["images/classification.gin"], [
        f"MODULE_HANDLE = '{images['image_classification']}'",
        f"TRAIN_DIR = '{images['parity_train']}'", f"EVAL_DIR = '{images['parity_eval']}'"]
  if name == "bert":
    return ["text/bert_tagging.gin"], [f"MODULE_HANDLE = '{request.getfixturevalue('bert_module')}'"]
  digits = [f"MODULE_HANDLE = '{request.getfixturevalue('digits_module')}'"]
  tfrecord = lambda label, spec: [
      "experiment.data = @tfrecord_data()",
      f"tfrecord_data.train_files = '{_write_tfrecord(tmp_path / 'digits.tfrecord')}'",
      f"tfrecord_data.eval_files = '{tmp_path / 'digits.tfrecord'}'",
      "tfrecord_data.feature_spec = {'pixels': ('float', [64])}",
      f"tfrecord_data.label_key = '{label}'", f"tfrecord_data.label_spec = {spec}",
      "binary_class_head.label_vocabulary = None"]
  extra = {
      "digits": [],
      "multi_class": ["experiment.head = @multi_class_head()", "multi_class_head.n_classes = 2",
                      "multi_class_head.label_vocabulary = ['even', 'odd']"],
      "multi_label": ["experiment.head = @multi_label_head()", "multi_label_head.n_classes = 2",
                      "multi_label_head.label_vocabulary = ['even', 'odd']"],
      "tfrecord": tfrecord("label", "('int', [])"),
      "regression": tfrecord("score", "('float', [])") + ["experiment.head = @regression_head()"],
      "early_stopping": ["training.early_stopping = @early_stopping()",
                         "early_stopping.metric = 'accuracy'"],
      "adamw": ["optimization.optimizer = @AdamWOptimizer"],
      "lazy_adam": ["optimization.optimizer = @LazyAdamOptimizer"],
      "lazy_adamw": ["optimization.optimizer = @LazyAdamWOptimizer"],
      "tpu": ["experiment.runtime = @tpu_runtime()", "tpu_runtime.run_config = @run_config()"],
  }[name]
  return ["digits/finetune.gin"], digits + extra


def _attempt(gin_files, bindings, model_dir):
  """None if the attempt worked or was refused as it should be; otherwise what went wrong."""
  try:
    api.train(gin_files, bindings, model_dir=model_dir, schedule="check")
    outcome = None
  except UnexpectedError as e:
    outcome = f"unexpected error: {e}"
  except FinetuneError as e:
    outcome = None if str(e).strip() else "an empty message"
  except BaseException as e:  # pylint: disable=broad-except  (what the test is looking for)
    outcome = f"{type(e).__name__} escaped the API: {e}"
  if os.path.exists(model_dir):
    outcome = (outcome or "") + " model_dir was written"
  return outcome


def _base(configurable, request, tmp_path):
  """(gin files, bindings) that a configurable's bad values are tried on."""
  gin_files, base = _context(CONTEXT.get(configurable, "digits"), request, tmp_path)
  if configurable != "training":  # one step per session.run: a smaller graph to build
    base = base + ["training.steps_per_run = 1"]
  return gin_files, base


def _contexts():
  """One configurable per distinct base that the attempts use (most share the digits one)."""
  firsts = {}
  for configurable in _configurables():
    firsts.setdefault((CONTEXT.get(configurable, "digits"), configurable == "training"),
                      configurable)
  return sorted(firsts.values())


@pytest.mark.parametrize("configurable", _contexts())
def test_every_context_is_a_good_config(configurable, request, tmp_path):
  """Each base the attempts below use works as it is, so that a refusal there is the bad
  value's doing. Checked once per distinct base (by the first configurable that uses it);
  each configurable's attempts use one of these."""
  gin_files, base = _base(configurable, request, tmp_path)
  assert _attempt(gin_files, base, str(tmp_path / "run")) is None


@pytest.mark.parametrize("configurable", _configurables())
def test_every_parameter_refuses_bad_values_in_one_line(configurable, request, tmp_path):
  gin_files, base = _base(configurable, request, tmp_path)
  model_dir = str(tmp_path / "run")
  # The base itself is a good config: test_every_context_is_a_good_config.
  wrapped = dict(parameters.configurables())[configurable]
  problems = []
  for parameter, default, _ in parameters.parameters(wrapped):
    for value in (v for v in BAD_VALUES if v != default):  # a default is not a mistake
      binding = f"{configurable}.{parameter} = {value}"
      problem = _attempt(gin_files, base + [binding], model_dir)
      if problem:
        problems.append(f"{binding}: {problem}")
  misspelled = f"{configurable}.{parameters.parameters(wrapped)[0][0]}_x = 1"
  problem = _attempt(gin_files, base + [misspelled], model_dir)
  if problem:
    problems.append(f"{misspelled}: {problem}")
  assert not problems, "\n".join(problems)


def test_every_configurable_is_tried_in_a_config_that_reads_it():
  names = {name for name, _ in parameters.configurables()}
  assert set(CONTEXT) <= names and NOT_READ_IN_A_CHECK <= names
  assert len(names) >= 25


def test_configurables_take_named_parameters_only():
  """No `**kwargs`: gin itself then names a misspelled parameter, with its did-you-mean."""
  import inspect  # pylint: disable=g-import-not-at-top
  for name, configurable in parameters.configurables():
    wrapped = configurable.wrapped
    function = wrapped.__init__ if inspect.isclass(wrapped) else wrapped
    kinds = [p.kind for p in inspect.signature(function).parameters.values()]
    assert inspect.Parameter.VAR_KEYWORD not in kinds, name
