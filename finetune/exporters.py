"""What is written after each evaluation: the fine-tuned hub module, the best one so far, a
serving SavedModel, and metrics.json.

All are tf.estimator `Exporter`s, run by train_and_evaluate after every evaluation:
  export/hub/<timestamp>/<name>/       hub.LatestModuleExporter (TF1 Hub format)
  export/best_hub/<timestamp>/<name>/  the same, only when the chosen metric improved
  export/serving/<timestamp>/          tf.estimator.LatestExporter (raw-input signature)
  metrics.json                         the latest eval metrics and global step
Hub and Estimator exporters write to a temporary directory and rename it, so an export is
whole or absent.
"""

import json
import logging
import os

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

from finetune.errors import FinetuneError

log = logging.getLogger("finetune")
EVAL_RESULT_FILE = "eval_result.json"


def jsonable(eval_result):
  """Eval results hold numpy scalars; JSON wants plain numbers."""
  out = {}
  for key, value in (eval_result or {}).items():
    value = np.asarray(value)
    if value.size == 1 and value.dtype.kind in "biuf":
      out[key] = value.item()
  return out


def write_json_atomically(path, payload):
  tmp = path + ".tmp"
  with tf.io.gfile.GFile(tmp, "w") as f:
    json.dump(payload, f, indent=2, sort_keys=True)
  tf.io.gfile.rename(tmp, path, overwrite=True)


class HubModuleExporter(hub.LatestModuleExporter):
  """hub.LatestModuleExporter that says where each export went."""

  def export(self,
             estimator,
             export_path,
             checkpoint_path=None,
             eval_result=None,
             is_the_final_export=None):
    path = super().export(estimator, export_path, checkpoint_path, eval_result, is_the_final_export)
    if path:
      log.info("Fine-tuned module (%s) exported to %s", self.name, _text(path))
    return path


class BestHubModuleExporter(HubModuleExporter):
  """Exports the hub module only when `metric` beats every earlier export in `export_path`.

  The best value so far is read back from the exports themselves (each holds the
  eval_result.json it was chosen with), so a resumed run keeps comparing against it.
  """

  def __init__(self, name, serving_input_fn, metric, higher_is_better=True, exports_to_keep=1):
    super().__init__(name, serving_input_fn, exports_to_keep=exports_to_keep)
    self._metric = metric
    self._higher_is_better = higher_is_better

  def _best_so_far(self, export_path):
    values = []
    if tf.io.gfile.isdir(export_path):
      for entry in tf.io.gfile.listdir(export_path):
        result_file = os.path.join(export_path, entry.rstrip("/"), EVAL_RESULT_FILE)
        if tf.io.gfile.exists(result_file):
          with tf.io.gfile.GFile(result_file) as f:
            values.append(json.load(f)[self._metric])
    if not values:
      return None
    return max(values) if self._higher_is_better else min(values)

  def export(self,
             estimator,
             export_path,
             checkpoint_path=None,
             eval_result=None,
             is_the_final_export=None):
    result = jsonable(eval_result)
    if self._metric not in result:
      raise FinetuneError(f"best_export_metric '{self._metric}' is not an eval metric; the "
                          f"metrics are: {', '.join(sorted(result))}.")
    export_path = _text(export_path)
    best = self._best_so_far(export_path)
    value = result[self._metric]
    if best is not None and (value <= best if self._higher_is_better else value >= best):
      return None
    path = super().export(estimator, export_path, checkpoint_path, eval_result, is_the_final_export)
    if path:
      write_json_atomically(os.path.join(_text(path), EVAL_RESULT_FILE), result)
    return path


class ServingExporter(tf.estimator.LatestExporter):
  """tf.estimator.LatestExporter that says where each SavedModel went."""

  def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
    path = super().export(estimator, export_path, checkpoint_path, eval_result, is_the_final_export)
    log.info("Serving SavedModel exported to %s", _text(path))
    return path


class MetricsReporter(tf.estimator.Exporter):
  """Logs each evaluation's metrics and keeps the latest in MODEL_DIR/metrics.json."""

  def __init__(self, model_dir):
    self._model_dir = model_dir

  @property
  def name(self):
    return "metrics"

  def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
    return report_metrics(self._model_dir, eval_result)


def report_metrics(model_dir, eval_result):
  """Logs `eval_result` and writes it to MODEL_DIR/metrics.json; returns the file path."""
  result = jsonable(eval_result)
  log.info("eval at step %s: %s", result.get("global_step"),
           "  ".join(f"{k}={v:.4f}" for k, v in sorted(result.items()) if k != "global_step"))
  path = os.path.join(model_dir, "metrics.json")
  write_json_atomically(path, result)
  return path


def _text(path):
  return path.decode() if isinstance(path, bytes) else path
