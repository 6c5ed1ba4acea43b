"""What is written after each evaluation: the fine-tuned hub module, the best one so far, a
serving SavedModel, and metrics.json.

All are tf.estimator `Exporter`s, run by train_and_evaluate after every evaluation:
  export/hub/<timestamp>/<name>/       the fine-tuned module (TF1 Hub format, or a TF2
                                       SavedModel for a TF2 handle: tf2_export.py); one
                                       folder per module when the model has several
  export/best_hub/<timestamp>/<name>/  the same, only when the chosen metric improved
  export/serving/<timestamp>/          tf.estimator.LatestExporter (raw-input signature)
  metrics.json                         the latest eval metrics and global step
Every export is written to a temporary directory and renamed, so it is whole or absent.
`default_exporters` is the one place that decides which exporters a run gets.
"""

import logging
import os
import time

import tensorflow as tf
import tensorflow_hub as hub

from finetune import files
from finetune.errors import FinetuneError
from finetune.formatting import to_text
from finetune.outputs import eval_gate
from finetune.outputs import metrics
from finetune.outputs import tf2_export
from finetune.process import signals

log = logging.getLogger("finetune")
EVAL_RESULT_FILE = "eval_result.json"
BEST = "best_hub"  # the best module's exporter, and so its folder under export/


class HubModuleExporter(hub.LatestModuleExporter):
  """hub.LatestModuleExporter that says where each export went."""

  def export(self, estimator, export_path, checkpoint_path=None, eval_result=None,
             is_the_final_export=None):
    with signals.phase(f"exporting the fine-tuned module ({self.name})"):
      path = super().export(estimator, export_path, checkpoint_path, eval_result,
                            is_the_final_export)
    if path:
      log.info("Fine-tuned module (%s) exported to %s", self.name, to_text(path))
    return path


class CheckpointModuleExporter(tf.estimator.Exporter):
  """Exports the modules from a checkpoint: with ModuleSpec.export for runtimes whose graph
  hub.LatestModuleExporter cannot rebuild (TPUEstimator), with tf2_export for a TF2
  SavedModel (hub's exporters know only hub.Module); same layout, same clean-up. `modules`:
  the HubModules, each written to <timestamp>/<its export_name>."""

  def __init__(self, name, modules, exports_to_keep=5):
    self._name = name
    self._modules = list(modules)
    self._exports_to_keep = exports_to_keep

  @property
  def name(self):
    return self._name

  def export(self, estimator, export_path, checkpoint_path=None, eval_result=None,
             is_the_final_export=None):
    with signals.phase(f"exporting the fine-tuned module ({self.name})"):
      return self._export(estimator, to_text(export_path), checkpoint_path)

  def _export(self, estimator, export_path, checkpoint_path):
    checkpoint_path = checkpoint_path or estimator.latest_checkpoint()
    stamp = int(time.time())
    while tf.io.gfile.exists(os.path.join(export_path, str(stamp))):
      stamp += 1  # two evaluations within a second
    final = os.path.join(export_path, str(stamp))
    temp = os.path.join(export_path, f"temp-{stamp}")
    for module in self._modules:
      if module.is_tf2:
        tf2_export.export(module, os.path.join(temp, module.export_name), checkpoint_path)
      else:
        module.spec.export(os.path.join(temp, module.export_name),
                           checkpoint_path=checkpoint_path,
                           name_transform_fn=lambda name, scope=module.name: f"{scope}/{name}")
    tf.io.gfile.rename(temp, final)
    stamps = sorted(e.rstrip("/") for e in tf.io.gfile.listdir(export_path)
                    if e.rstrip("/").isdigit())
    for old in stamps[:-self._exports_to_keep]:
      tf.io.gfile.rmtree(os.path.join(export_path, old))
    log.info("Fine-tuned module (%s) exported to %s", self.name, final)
    return final


class BestOnly(tf.estimator.Exporter):
  """Runs `exporter` only when `metric` beats every earlier export in its folder.

  The best value so far is read back from the exports themselves (each holds the
  eval_result.json it was chosen with), so a resumed run keeps comparing against it.
  """

  def __init__(self, exporter, metric, higher_is_better=True):
    self._exporter = exporter
    self._metric = metric
    self._higher_is_better = higher_is_better

  @property
  def name(self):
    return self._exporter.name

  def _best_so_far(self, export_path):
    values = []
    if tf.io.gfile.isdir(export_path):
      for entry in tf.io.gfile.listdir(export_path):
        result = files.read_json(os.path.join(export_path, entry.rstrip("/"), EVAL_RESULT_FILE))
        if result and self._metric in result:
          values.append(result[self._metric])
    if not values:
      return None
    return max(values) if self._higher_is_better else min(values)

  def export(self, estimator, export_path, checkpoint_path=None, eval_result=None,
             is_the_final_export=None):
    result = metrics.jsonable(eval_result)
    if self._metric not in result:
      raise FinetuneError(f"evaluation.best_export_metric '{self._metric}' is not an eval "
                          f"metric; the metrics are: {', '.join(sorted(result))}.")
    export_path = to_text(export_path)
    best, value = self._best_so_far(export_path), result[self._metric]
    if best is not None and (value <= best if self._higher_is_better else value >= best):
      return None
    path = self._exporter.export(estimator, export_path, checkpoint_path, eval_result,
                                 is_the_final_export)
    if path:
      files.write_json_atomically(os.path.join(to_text(path), EVAL_RESULT_FILE), result)
    return path


class ServingExporter(tf.estimator.LatestExporter):
  """tf.estimator.LatestExporter that says where each SavedModel went."""

  def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
    with signals.phase("exporting the serving SavedModel"):
      path = super().export(estimator, export_path, checkpoint_path, eval_result,
                            is_the_final_export)
    log.info("Serving SavedModel exported to %s", to_text(path))
    return path


class MetricsReporter(tf.estimator.Exporter):
  """Logs each evaluation's metrics and keeps the latest in MODEL_DIR/metrics.json."""

  def __init__(self, model_dir):
    self._model_dir = model_dir

  @property
  def name(self):
    return "metrics"

  def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
    return metrics.report(self._model_dir, eval_result)


def final_exporters(runtime, modules, serving_fn, exports_to_keep):
  """The hub modules and the serving SavedModel: what every run that trained ends with."""
  return [
      runtime.hub_exporter("hub", modules, serving_fn, exports_to_keep),
      ServingExporter("serving", serving_fn, exports_to_keep=exports_to_keep),
  ]


def default_exporters(model_dir, runtime, modules, serving_fn, evaluation):
  """Exporters run after each evaluation: metrics.json, the module, serving, best module."""
  exporters = [MetricsReporter(model_dir)]
  exporters += final_exporters(runtime, modules, serving_fn, evaluation.exports_to_keep)
  exporters += _best_exporters(runtime, modules, serving_fn, evaluation)
  return exporters + eval_gate.from_environment(model_dir)  # last: a search sweep's wait


def evaluator_exporters(model_dir, runtime, modules, serving_fn, evaluation):
  """In a TF_CONFIG cluster, where the evaluator task alone runs exporters: metrics.json and
  the best module. The chief writes hub/ and serving/ once training is done, so no two
  tasks write one folder."""
  return [MetricsReporter(model_dir)] + _best_exporters(runtime, modules, serving_fn, evaluation)


def _best_exporters(runtime, modules, serving_fn, evaluation):
  if not evaluation.best_export_metric:
    return []
  best = runtime.hub_exporter(BEST, modules, serving_fn, evaluation.exports_to_keep)
  return [BestOnly(best, evaluation.best_export_metric, evaluation.best_export_higher_is_better)]


def export_all(estimator, model_dir, exporters, checkpoint):
  """Runs `exporters` on `checkpoint` (which must exist) into MODEL_DIR/export/<name>;
  returns {name: path}."""
  paths = {}
  for exporter in exporters:
    path = exporter.export(estimator, os.path.join(model_dir, "export", exporter.name),
                           checkpoint, None, True)
    paths[exporter.name] = to_text(path)
  return paths
