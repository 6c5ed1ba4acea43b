"""Shared fixtures: every test starts with a clean gin config and a fresh default graph."""

import gin
import pytest
import tensorflow as tf

from finetune import config
from tests import builders



@pytest.fixture(autouse=True)
def clean_state():
  gin.clear_config(clear_constants=False)
  config.add_search_paths()
  with tf.Graph().as_default():
    yield
  gin.clear_config(clear_constants=False)


@pytest.fixture(scope="session")
def digits_module(tmp_path_factory):
  """A small digits module pretrained on digits 0-4 (l2 1e-4 on its kernels)."""
  return builders.build_digits_module(str(tmp_path_factory.mktemp("modules") / "digits"))


@pytest.fixture(scope="session")
def heavy_l2_module(tmp_path_factory):
  """The same module with a huge L2 regularizer, to see regularization act on it."""
  return builders.build_digits_module(
      str(tmp_path_factory.mktemp("modules") / "digits_l2"), l2=5.0)
