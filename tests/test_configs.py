"""Golden configs: every shipped task config parses, runs two steps against a tiny module,
and writes an operative config that parses again. Shipped configs never rot."""

import os

import gin
import pytest

from finetune import config
from finetune import experiment
from tests import helpers

TASK_CONFIGS = sorted(
    os.path.relpath(os.path.join(d, f), config.CONFIG_DIR)
    for d, _, files in os.walk(config.CONFIG_DIR)
    for f in files
    if f.endswith(".gin") and "base" not in os.path.relpath(d, config.CONFIG_DIR).split(os.sep))


def _image_inputs(gin_file, request):
  images = request.getfixturevalue("image_example")
  kind = "image_classification" if "classification" in gin_file else "image_feature_vector"
  return [
      f"MODULE_HANDLE = '{images[kind]}'", f"TRAIN_DIR = '{images['parity_train']}'",
      f"EVAL_DIR = '{images['parity_eval']}'"
  ]


def _text_inputs(gin_file, request):
  if os.path.basename(gin_file).startswith("bert"):
    return [f"MODULE_HANDLE = '{request.getfixturevalue('bert_module')}'", "MAX_SEQ_LENGTH = 16"]
  return [f"MODULE_HANDLE = '{request.getfixturevalue('text_module')}'"]  # text embedding


# Per config folder: bindings that point its configs at tiny modules and data from fixtures.
TINY_INPUTS = {
    "digits": lambda gin_file, request: [
        f"MODULE_HANDLE = '{request.getfixturevalue('digits_module')}'"],
    "glove": lambda gin_file, request: [  # the text-embedding signature, as GloVe's module
        f"MODULE_HANDLE = '{request.getfixturevalue('text_module')}'"],
    "images": _image_inputs,
    "multi": lambda gin_file, request: [  # the text module twice, or on both sentences
        f"MODULE_HANDLE = '{request.getfixturevalue('text_module')}'"] + (
            [f"DOCSTRING_HANDLE = '{request.getfixturevalue('text_module')}'",
             "docstrings/hub_module.export_name = 'docstrings'"]
            if "two_encoders" in gin_file else []),
    "text": _text_inputs,
}


def test_every_config_folder_has_tiny_inputs():
  """A new folder of configs needs its tiny module and data here before its configs run."""
  assert {c.split(os.sep)[0] for c in TASK_CONFIGS} == set(TINY_INPUTS)


def tiny_inputs(gin_file, request):
  return TINY_INPUTS[gin_file.split(os.sep)[0]](gin_file, request)


# Configs that another test already trains whole (train_and_evaluate: evaluations and every
# export) against a tiny module: here they train their two steps with schedule "train" and
# are evaluated below from their model_dir alone. Any other config, a new one included, runs
# train_and_evaluate here.
TRAINED_WHOLE_ELSEWHERE = {
    "digits/finetune.gin": "test_examples.py (the default example)",
    "digits/frozen.gin": "test_examples.py (the compare script)",
    "digits/scratch.gin": "test_examples.py (the compare script)",
    "glove/finetune.gin": "test_glove_example.py",
    "glove/frozen.gin": "test_glove_example.py (the compare script)",
    "glove/scratch.gin": "test_glove_example.py (the compare script)",
    "images/classification.gin": "test_examples.py (the image example)",
    "images/feature_vector.gin": "test_examples.py (the image example)",
    "text/embedding.gin": "test_examples.py (the text example)",
    "text/bert_classifier.gin": "test_bert.py",
    "text/bert_pairs.gin": "test_bert.py",
    "text/bert_tagging.gin": "test_bert.py",
}


def test_configs_trained_whole_elsewhere_are_shipped_configs():
  assert set(TRAINED_WHOLE_ELSEWHERE) <= {c.replace(os.sep, "/") for c in TASK_CONFIGS}


@pytest.mark.parametrize("gin_file", TASK_CONFIGS)
def test_config_runs_and_operative_config_reparses(tmp_path, request, gin_file):
  bindings = tiny_inputs(gin_file, request)
  handle = bindings[0].split("'")[1]
  config.parse([gin_file],
               bindings + ["TRAIN_STEPS = 2", "learning_rate_schedule.warmup_steps = 0"])
  if gin_file.replace(os.sep, "/") in TRAINED_WHOLE_ELSEWHERE:
    experiment.run(str(tmp_path), "train")
    assert helpers.checkpoint_step(str(tmp_path)) == 2
  else:
    metrics = experiment.run(str(tmp_path), "train_and_evaluate")
    assert metrics["global_step"] == 2
  operative = tmp_path / "operative_config.gin"
  assert operative.exists()
  gin.clear_config()
  config.parse([], [], model_dir=str(tmp_path))
  assert gin.query_parameter("MODULE_HANDLE/macro.value") == handle
  assert experiment.run(str(tmp_path), "evaluate")["global_step"] == 2
