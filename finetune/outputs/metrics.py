"""Evaluation results as users and scripts read them: logged, and kept in metrics.json."""

import logging
import os

import numpy as np

from finetune import files

log = logging.getLogger("finetune")
METRICS_FILE = "metrics.json"


def jsonable(eval_result):
  """Eval results hold numpy scalars; JSON wants plain numbers."""
  out = {}
  for key, value in (eval_result or {}).items():
    value = np.asarray(value)
    if value.size == 1 and value.dtype.kind in "biuf":
      out[key] = value.item()
  return out


def report(model_dir, eval_result):
  """Logs `eval_result` and writes it to MODEL_DIR/metrics.json; returns the file path."""
  result = jsonable(eval_result)
  log.info("eval at step %s: %s", result.get("global_step"),
           "  ".join(f"{k}={v:.4f}" for k, v in sorted(result.items()) if k != "global_step"))
  path = os.path.join(model_dir, METRICS_FILE)
  files.write_json_atomically(path, result)
  return path


def read(model_dir):
  """The latest metrics a run (or its evaluator) wrote, or None."""
  return files.read_json(os.path.join(model_dir, METRICS_FILE))
