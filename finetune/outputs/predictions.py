"""The predict schedule's output: one JSON line of predictions per eval example."""

import json
import logging
import os

import numpy as np
import tensorflow as tf

log = logging.getLogger("finetune")
PREDICTIONS_FILE = "predictions.jsonl"


def _plain(value):
  value = np.asarray(value)
  if value.dtype.kind in "SO":
    return [v.decode() if isinstance(v, bytes) else str(v) for v in value.ravel().tolist()]
  return value.tolist()


def write(predictions, model_dir):
  """Writes MODEL_DIR/predictions.jsonl (whole or not at all); returns its path."""
  path = os.path.join(model_dir, PREDICTIONS_FILE)
  count = 0
  with tf.io.gfile.GFile(path + ".tmp", "w") as f:
    for prediction in predictions:
      f.write(json.dumps({k: _plain(v) for k, v in prediction.items()}) + "\n")
      count += 1
  tf.io.gfile.rename(path + ".tmp", path, overwrite=True)
  log.info("Wrote %d predictions to %s", count, path)
  return path
