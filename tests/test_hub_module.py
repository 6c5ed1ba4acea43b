"""The module as configured against the module as it is: defaults, and one clear error per
mismatch, raised before anything is written."""

import os

import pytest
import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.modules.hub_module import HubModule
from tests import helpers

PIXELS = {"pixels": tf.TensorSpec([64], tf.float32)}


def test_train_variant_is_used_for_training_when_trainable(digits_module):
  assert HubModule(handle=digits_module).train_tags == {"train"}
  assert HubModule(handle=digits_module, trainable=False).train_tags == set()
  module = HubModule(handle=digits_module)
  assert module.tags_for(tf.estimator.ModeKeys.EVAL) == set()
  assert module.export_name == "digits"


@pytest.mark.parametrize("kwargs, specs, message", [
    (dict(signature="tokens"), PIXELS,
     r"Signature 'tokens' not in module .*digits' \(tags \{\"train\"\}\); it has: "
     r"classifier, default\."),
    (dict(output_key="pooled"), PIXELS,
     r"Output 'pooled' not in signature 'default' .*; it has: default, hidden\."),
    (dict(train_tags={"training"}), PIXELS,
     r"Tag set \{\"training\"\} is not a graph variant .*; it has: .*\{\"train\"\}"),
    (dict(input_mapping={"pixels": "image"}), PIXELS,
     r"maps 'pixels' to feature 'image', which the data does not have; its features are: "
     r"pixels\."),
    (dict(input_mapping={"images": "pixels"}), PIXELS,
     r"input 'pixels' is not in hub_module.input_mapping"),
    (dict(), {
        "a": tf.TensorSpec([64], tf.float32),
        "b": tf.TensorSpec([], tf.string)
    }, r"Cannot match the inputs of signature 'default' \(pixels\) to the data's features "
     r"\(a, b\)"),
    (dict(), {
        "pixels": tf.TensorSpec([], tf.string)
    }, r"Feature 'pixels' is string but signature input 'pixels' takes float32"),
    (dict(), {
        "pixels": tf.TensorSpec([10], tf.float32)
    }, r"Feature 'pixels' has per-example shape \[10\] but signature input 'pixels' takes "
     r"\[64\]"),
])
def test_mismatch_is_one_clear_error(digits_module, kwargs, specs, message):
  with pytest.raises(FinetuneError, match=message):
    HubModule(handle=digits_module, **kwargs).validate(specs)


def test_validation_failure_writes_nothing_to_model_dir(tmp_path, digits_module):
  model_dir = tmp_path / "model"
  with pytest.raises(FinetuneError, match="Signature 'tokens'"):
    helpers.run(model_dir, digits_module, signature="tokens")
  assert not model_dir.exists()


def test_missing_handle_path(tmp_path):
  with pytest.raises(FinetuneError, match="does not exist"):
    _ = HubModule(handle=str(tmp_path / "nowhere")).spec


def test_directory_without_tfhub_module_pb(tmp_path):
  with pytest.raises(FinetuneError, match="directory without tfhub_module.pb"):
    _ = HubModule(handle=str(tmp_path)).spec


def test_tf1_savedmodel_is_named_as_such(tmp_path):
  """saved_model.pb without tfhub_module.pb is read as a TF2 SavedModel; a TF1 one (no TF2
  objects to call) is neither format and is refused as what it is."""
  path = str(tmp_path / "saved_model")
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    x = tf.compat.v1.placeholder(tf.float32, [None, 2])
    tf.compat.v1.saved_model.simple_save(session, path, {"x": x}, {"y": x * 2})
  assert os.path.exists(os.path.join(path, "saved_model.pb"))
  with pytest.raises(FinetuneError,
                     match=r"is a TF1 SavedModel \(saved_model.pb without tfhub_module.pb and "
                     "without TF2 objects\), neither a TF1 Hub format module nor a TF2"):
    _ = HubModule(handle=path).spec
