"""Small helpers the tests share: running an experiment on arrays, reading checkpoints."""

import os

import gin
import numpy as np
import tensorflow as tf

from finetune import data as data_lib
from finetune import experiment
from finetune import heads
from finetune.hub_module import HubModule
from tests import builders


def run(model_dir,
        handle,
        bindings=(),
        train_steps=30,
        schedule="train_and_evaluate",
        n_classes=5,
        data=None,
        head=None,
        train_hooks=(),
        **module_kwargs):
  """Fine-tunes `handle` on digits 5-9 arrays; gin `bindings` tune the rest."""
  gin.parse_config(list(bindings))
  if data is None:
    train, eval_ = builders.finetune_arrays()
    data = data_lib.ArrayData(train=train, eval=eval_, batch_size=16, seed=1)
  module = HubModule(handle=handle, **module_kwargs)
  return experiment.run(str(model_dir),
                        schedule,
                        data=data,
                        head=head or heads.multi_class_head(n_classes=n_classes),
                        train_steps=train_steps,
                        module=module,
                        train_hooks=train_hooks)


def checkpoint_values(model_dir_or_ckpt):
  """{variable name: value} of the latest checkpoint in a model_dir (or a checkpoint path)."""
  path = model_dir_or_ckpt
  if tf.io.gfile.isdir(path):
    path = tf.train.latest_checkpoint(path)
  reader = tf.train.load_checkpoint(path)
  return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def module_values(module_dir):
  """{variable name: value} stored in an exported hub module."""
  return checkpoint_values(os.path.join(module_dir, "variables", "variables"))


def module_outputs(module_dir, pixels, signature="default", tags=None):
  """Runs an exported module on `pixels` in a fresh graph with plain hub.Module."""
  import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
  with tf.Graph().as_default():
    module = hub.Module(module_dir, tags=tags)
    out = module({"pixels": tf.constant(pixels)}, signature=signature)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      return session.run(out)


def latest_subdir(path):
  stamps = sorted(e for e in os.listdir(path) if e.isdigit())
  return os.path.join(path, stamps[-1])


def moved(before, after, atol=1e-7):
  return not np.allclose(before, after, atol=atol)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_module(module, *args, timeout=600):
  """Runs `python -m module args` from the repository root, as a user would."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  return subprocess.run([sys.executable, "-m", module, *args],
                        cwd=REPO,
                        capture_output=True,
                        text=True,
                        timeout=timeout)
