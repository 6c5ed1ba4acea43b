"""The predict schedule's output: one JSON line of predictions per eval example."""

import json
import logging
import os

import numpy as np

from finetune import files

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
  with files.written_atomically(path) as f:
    for prediction in predictions:
      f.write(json.dumps({k: _plain(v) for k, v in prediction.items()}) + "\n")
      count += 1
  log.info("Wrote %d predictions to %s", count, path)
  return path
