"""Shared fixtures: every test starts with a clean gin config and a fresh default graph."""

import gin
import pytest
import tensorflow as tf

from finetune import config
from tests import builders


@pytest.fixture(autouse=True)
def clean_state():
  gin.clear_config(clear_constants=False)
  gin.add_config_file_search_path(config.CONFIG_DIR)
  with tf.Graph().as_default():
    yield
  gin.clear_config(clear_constants=False)


@pytest.fixture(scope="session")
def digits_module(tmp_path_factory):
  """A small digits module pretrained on digits 0-4 (l2 1e-4 on its kernels)."""
  return builders.build_digits_module(str(tmp_path_factory.mktemp("modules") / "digits"))


@pytest.fixture(scope="session")
def heavy_l2_module(tmp_path_factory):
  """An untrained digits module whose graph carries a huge L2 regularizer (5.0)."""
  return builders.build_digits_module(str(tmp_path_factory.mktemp("modules") / "digits_l2"),
                                      steps=0,
                                      l2=5.0)


@pytest.fixture(scope="session")
def unregularized_module(tmp_path_factory):
  """The same untrained module (same initial weights) without any regularizer."""
  return builders.build_digits_module(str(tmp_path_factory.mktemp("modules") / "digits_no_l2"),
                                      steps=0,
                                      l2=0.0)


@pytest.fixture(scope="session")
def image_example(tmp_path_factory):
  """Digit image folders and small image modules (both common image signatures).

  Smaller than the example's, and pretrained gently: at the example's rate (Adam, 0.01) and
  50 steps with 8 features, every ReLU feature could die on the parity images (1 build in 8),
  and then no gradient reaches the classifier's logits layer (a flaky test, seen in CI). At
  0.001 and 100 steps, 11-13 of 16 features stayed alive on every image in 6 builds.
  """
  from examples.images import build  # pylint: disable=g-import-not-at-top
  return build.build(str(tmp_path_factory.mktemp("images")),
                     steps=100,
                     learning_rate=0.001,
                     filters=(4,),
                     feature_dim=16)


@pytest.fixture(scope="session")
def text_module(tmp_path_factory):
  """A small text embedding module (the text example's, built from its shipped corpus)."""
  from examples.text import build  # pylint: disable=g-import-not-at-top
  return build.build(str(tmp_path_factory.mktemp("text")), vocab_size=500,
                     dim=8)["docstring_embedding"]


def _task_lines():
  import csv  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                      "text", "data", "task_train.csv")
  with open(path) as f:
    return [row["text"] for row in csv.DictReader(f)]


@pytest.fixture(scope="session")
def bert_module(tmp_path_factory):
  """An untrained tiny BERT-style module whose vocabulary comes from the text task's lines."""
  return builders.build_bert_module(str(tmp_path_factory.mktemp("bert") / "bert"), _task_lines())


@pytest.fixture(scope="session")
def bert_variants(tmp_path_factory):
  """BERT-style modules that break the rules: a fixed sequence length of 16, and no
  tokenization_info signature."""
  root = tmp_path_factory.mktemp("bert_variants")
  lines = _task_lines()
  return {
      "fixed_16": builders.build_bert_module(str(root / "fixed"), lines, seq_length=16),
      "no_info": builders.build_bert_module(str(root / "no_info"), lines,
                                            with_tokenization_info=False),
  }


# The slowest test files, slowest first (worker-seconds, measured with --durations): `make
# test` hands whole files to two workers in collection order (--dist loadfile
# --no-loadscope-reorder), so starting the long ones first keeps one long file from running
# alone at the end. Only the order changes; a file missing here runs after these.
SLOWEST_FIRST = [
    "test_bert.py",
    "test_examples.py",
    "test_sweep_search.py",
    "test_sweep.py",
    "test_cluster.py",
    "test_glove_example.py",
    "test_config_surface.py",
    "test_model.py",
    "test_configs.py",
    "test_sweep_reliability.py",
    "test_interruption.py",
    "test_tf2_modules.py",
    "test_errors.py",
    "test_api.py",
    "test_disk_full.py",
    "test_replicas.py",
    "test_train.py",
    "test_signals.py",
    "test_tpu.py",
    "test_images.py",
    "test_train_loop.py",
    "test_funnel.py",
    "test_downloads.py",
    "test_inspect.py",
]


def pytest_collection_modifyitems(items):
  rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
  items.sort(key=lambda item: rank.get(item.path.name, len(SLOWEST_FIRST)))  # stable
