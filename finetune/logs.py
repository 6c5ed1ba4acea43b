"""Quiet by default: TensorFlow's C++ and deprecation noise off, finetune's own lines on.

`quiet_tensorflow_before_import` must run before TensorFlow is first imported (the C++ log
level is read from the environment at load time), so the command calls it at the very top.
"""

import logging
import os
import sys
import warnings


def quiet_tensorflow_before_import(verbose):
  if not verbose:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


def configure(verbose, stream=None):
  """finetune's progress and results go to stdout (or `stream`: inspect keeps stdout for its
  description); TensorFlow's INFO chatter only if verbose."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  log = logging.getLogger("finetune")
  log.setLevel(logging.INFO)
  for old in list(log.handlers):  # its stream may be gone (a caller replaced stdout)
    log.removeHandler(old)
  handler = logging.StreamHandler(stream or sys.stdout)
  handler.setFormatter(logging.Formatter("finetune %(asctime)s  %(message)s", "%H:%M:%S"))
  log.addHandler(handler)
  log.propagate = False
  # TensorFlow's deprecation notices go through its logger, so ERROR hides them too.
  tf.get_logger().setLevel(logging.INFO if verbose else logging.ERROR)
  if not verbose:
    logging.getLogger("absl").setLevel(logging.ERROR)
