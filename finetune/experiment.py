"""The one library call behind the command: validate, build the Estimator, run a schedule.

`run(model_dir, schedule)` is gin's top-level entry (`experiment`); everything else arrives
through gin references. It checks the whole configuration against the module and the data
before the Estimator exists, so a mistake costs nothing and writes nothing to model_dir.
"""

import contextlib
import datetime
import json
import logging
import os
import shlex

import gin
import numpy as np
import tensorflow as tf

from finetune import data as data_lib
from finetune import exporters as exporters_lib
from finetune import faults
from finetune import heads as heads_lib
from finetune import image_data  # noqa: F401  (registers image_folder_data)
from finetune import model as model_lib
from finetune.errors import FinetuneError
from finetune.hub_module import HubModule
from finetune import preflight
from finetune import tpu as tpu_lib
from finetune import train_loop
from finetune.optimization import learning_rate_schedule
from finetune.runtime import make_run_config

log = logging.getLogger("finetune")
COMMAND_LOG = "command_lines.txt"
SCHEDULES = ("train_and_evaluate", "train", "evaluate", "export", "predict")


@gin.configurable("experiment", denylist=["model_dir", "schedule", "command_line", "train_hooks"])
def run(model_dir,
        schedule="train_and_evaluate",
        data=gin.REQUIRED,
        head=gin.REQUIRED,
        train_steps=gin.REQUIRED,
        module=None,
        eval_steps=None,
        eval_throttle_secs=0,
        exports_to_keep=3,
        best_export_metric=None,
        best_export_higher_is_better=True,
        early_stopping_metric=None,
        early_stopping_higher_is_better=True,
        early_stopping_patience_steps=1000,
        early_stopping_check_every_steps=100,
        warm_start_from=None,
        warm_start_vars=".*",
        progress_every_secs=10.0,
        steps_per_run=1,
        command_line=None,
        train_hooks=()):
  """Fine-tunes, evaluates, exports or predicts, as `schedule` says.

  Args:
    model_dir: where checkpoints, events, exports and metrics.json go (not set in gin).
    schedule: one of train_and_evaluate, train, evaluate, export, predict.
    data: a data source, e.g. @csv_data().
    head: a tf.estimator head, e.g. @multi_class_head().
    train_steps: global step at which training stops (a resumed run continues to it).
    module: the HubModule (default: `hub_module` as configured in gin).
    eval_steps: batches per evaluation (default: the whole eval set).
    eval_throttle_secs: minimum seconds between evaluations in train_and_evaluate.
    exports_to_keep: how many timestamped hub and serving exports are kept.
    best_export_metric: if set (e.g. "accuracy"), also keep export/best_hub/ with the module
      from the best evaluation by this metric.
    best_export_higher_is_better: direction of best_export_metric.
    early_stopping_metric: if set, stop training when this eval metric has not improved
      for early_stopping_patience_steps steps.
    warm_start_from: a checkpoint (or model_dir) to initialize matching variables from.
    warm_start_vars: regex of variables to warm-start.
    progress_every_secs: cadence of the progress line.
    steps_per_run: training steps per session.run, run in an in-graph loop that trains
      exactly as single steps do (train_loop.py); it amortizes the per-run host work when
      steps take only milliseconds. Hooks then see one run per K steps.
    command_line: argv of the command, recorded in MODEL_DIR/command_lines.txt once the
      configuration is valid.
    train_hooks: extra SessionRunHooks for training (from Python, e.g. measurements).

  Returns:
    The final eval metrics (dict) for train_and_evaluate and evaluate, the export paths for
    export, the predictions file for predict, None for train.
  """
  if schedule not in SCHEDULES:
    raise FinetuneError(f"Unknown schedule '{schedule}'; use one of: {', '.join(SCHEDULES)}.")
  module = module or HubModule()
  _validate(module, data, head, train_steps)
  train_loop.check_steps_per_run(steps_per_run)
  tpu_settings = tpu_lib.TPUSettings()
  if tpu_settings.enabled and steps_per_run > 1:
    log.info(
        "experiment.steps_per_run = %d is for CPU and GPU runs; on TPUs "
        "tpu.iterations_per_loop (%d) sets the steps per run.", steps_per_run,
        tpu_settings.iterations_per_loop)
  if tpu_settings.enabled and schedule == "predict":
    raise FinetuneError("The TPU path runs train, evaluate, export and train_and_evaluate; "
                        "predict with the serving SavedModel.")
  if schedule != "evaluate":
    preflight.check_writable(model_dir)
  if tpu_settings.enabled:
    with _guarded(model_dir, schedule, command_line):
      return tpu_lib.run(model_dir, schedule, module, data, head, train_steps, eval_steps,
                         tpu_settings)
  estimator = _make_estimator(model_dir, module, data, head, train_steps, warm_start_from,
                              warm_start_vars, progress_every_secs, steps_per_run)
  train_input_fn = (data.input_fn(data_lib.TRAIN)
                    if steps_per_run == 1 else train_loop.iterator_input_fn(data, data_lib.TRAIN))
  trains = schedule in ("train_and_evaluate", "train")
  if trains:
    preflight.check_checkpoint_matches(model_dir, estimator.model_fn, data.feature_specs(),
                                       estimator.config)
  with _guarded(model_dir, schedule, command_line):
    result = _run_schedule(schedule, estimator, data, train_input_fn, model_dir, train_steps,
                           eval_steps, eval_throttle_secs, exports_to_keep, best_export_metric,
                           best_export_higher_is_better, early_stopping_metric,
                           early_stopping_higher_is_better, early_stopping_patience_steps,
                           early_stopping_check_every_steps, list(train_hooks))
  if trains and faults.STOP_REQUESTED.is_set():
    checkpoint = estimator.latest_checkpoint()
    raise faults.Preempted(
        f"Stopped by SIGTERM at step {estimator.get_variable_value('global_step')}; the "
        f"checkpoint is saved ({checkpoint}). Run the same command to resume.")
  return result


@contextlib.contextmanager
def _guarded(model_dir, schedule, command_line):
  """Around a run that passed every check: record the command, hold the model_dir lock,
  clear half-written exports of a killed run, and explain TensorFlow's runtime errors."""
  chief = _is_chief()
  if command_line and chief:
    record_command_line(model_dir, command_line)
  writes = schedule in ("train_and_evaluate", "train", "export") and chief
  with preflight.ModelDirLock(model_dir, command_line) if writes else contextlib.nullcontext():
    if chief:
      preflight.remove_partial_exports(model_dir)
    try:
      yield
    except (tf.errors.OpError, ValueError) as e:
      raise faults.explain(e, model_dir) or e


def _run_schedule(schedule, estimator, data, train_input_fn, model_dir, train_steps, eval_steps,
                  eval_throttle_secs, exports_to_keep, best_export_metric,
                  best_export_higher_is_better, early_stopping_metric,
                  early_stopping_higher_is_better, early_stopping_patience_steps,
                  early_stopping_check_every_steps, train_hooks):
  serving_fn = data.serving_input_receiver_fn()
  if schedule == "train":
    estimator.train(train_input_fn,
                    max_steps=train_steps,
                    hooks=[faults.PreemptionHook()] + train_hooks)
    return None
  if schedule == "evaluate":
    return _evaluate(estimator, data, eval_steps, model_dir)
  if schedule == "export":
    return export_latest(estimator, serving_fn, model_dir, exports_to_keep)
  if schedule == "predict":
    return predict(estimator, data, model_dir)
  if _task_type() is not None:
    # A TF_CONFIG cluster: the evaluator reports metrics; the chief alone exports, once
    # training is done, so no two tasks write the same export.
    exporters = [exporters_lib.MetricsReporter(model_dir)]
  else:
    exporters = _exporters(model_dir, serving_fn, exports_to_keep, best_export_metric,
                           best_export_higher_is_better)
  return _train_and_evaluate(
      estimator, data, train_input_fn, model_dir, train_steps, eval_steps, eval_throttle_secs,
      exporters, lambda: export_latest(estimator, serving_fn, model_dir, exports_to_keep),
      [faults.PreemptionHook()] + train_hooks +
      _early_stopping(estimator, early_stopping_metric, early_stopping_higher_is_better,
                      early_stopping_patience_steps, early_stopping_check_every_steps))


def _task_type():
  """This process's task type in a TF_CONFIG cluster, or None outside one."""
  return json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {}).get("type")


def _is_chief():
  """True outside a cluster and on its chief: the task that writes and exports."""
  return _task_type() in (None, "chief", "master")


def _validate(module, data, head, train_steps):
  """Everything that can be checked without training, checked before model_dir is touched."""
  if not isinstance(data, data_lib.DataSource):
    raise FinetuneError(f"experiment.data must be a data source such as @csv_data(), "
                        f"@tfrecord_data() or @array_data(); got {data!r}.")
  heads_lib.check_head(head)
  if not isinstance(train_steps, int) or train_steps <= 0:
    raise FinetuneError(f"experiment.train_steps must be a positive integer, got "
                        f"{train_steps!r}.")
  data.adapt_to_module(module)
  module.validate(data.feature_specs())
  data.check_not_empty()
  with tf.Graph().as_default():  # Checks the learning-rate regime's values.
    learning_rate_schedule(tf.constant(0, tf.int64), train_steps)


def _make_estimator(model_dir,
                    module,
                    data,
                    head,
                    train_steps,
                    warm_start_from,
                    warm_start_vars,
                    progress_every_secs,
                    steps_per_run=1):
  model_fn = model_lib.make_model_fn(module, head, train_steps, data.batch_size,
                                     progress_every_secs, steps_per_run)
  warm_start = None
  if warm_start_from:
    warm_start = tf.estimator.WarmStartSettings(ckpt_to_initialize_from=warm_start_from,
                                                vars_to_warm_start=warm_start_vars)
  return tf.estimator.Estimator(model_fn,
                                config=make_run_config(model_dir),
                                warm_start_from=warm_start)


def _exporters(model_dir, serving_fn, exports_to_keep, best_metric, best_higher):
  exporters = [
      exporters_lib.MetricsReporter(model_dir),
      exporters_lib.HubModuleExporter("hub", serving_fn, exports_to_keep=exports_to_keep),
      exporters_lib.ServingExporter("serving", serving_fn, exports_to_keep=exports_to_keep),
  ]
  if best_metric:
    exporters.append(
        exporters_lib.BestHubModuleExporter("best_hub",
                                            serving_fn,
                                            best_metric,
                                            higher_is_better=best_higher,
                                            exports_to_keep=exports_to_keep))
  return exporters


def _early_stopping(estimator, metric, higher_is_better, patience_steps, every_steps):
  if not metric:
    return []
  stop_if = (tf.estimator.experimental.stop_if_no_increase_hook
             if higher_is_better else tf.estimator.experimental.stop_if_no_decrease_hook)
  return [
      stop_if(estimator, metric, patience_steps, run_every_secs=None, run_every_steps=every_steps)
  ]


def _train_and_evaluate(estimator, data, train_input_fn, model_dir, train_steps, eval_steps,
                        throttle_secs, exporters, export_fn, train_hooks):
  train_spec = tf.estimator.TrainSpec(train_input_fn, max_steps=train_steps, hooks=train_hooks)
  eval_spec = tf.estimator.EvalSpec(data.input_fn(data_lib.EVAL),
                                    steps=eval_steps,
                                    exporters=exporters,
                                    start_delay_secs=0,
                                    throttle_secs=throttle_secs)
  # Locally this returns (eval result, export results); in a cluster, None on most tasks.
  outcome = tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
  eval_result = outcome[0] if outcome else None
  task = _task_type()
  if task in ("chief", "master"):
    if not faults.STOP_REQUESTED.is_set():
      export_fn()
    return {"global_step": int(estimator.get_variable_value("global_step"))}
  if task == "evaluator":  # its MetricsReporter wrote metrics.json after each evaluation
    path = os.path.join(model_dir, "metrics.json")
    with tf.io.gfile.GFile(path) as f:
      return json.load(f)
  if task is not None:  # workers report nothing
    return None
  if eval_result is None:
    # Training was already complete (a rerun of a finished job): report its metrics anyway.
    return _evaluate(estimator, data, eval_steps, model_dir)
  return exporters_lib.jsonable(eval_result)


def _evaluate(estimator, data, eval_steps, model_dir):
  result = estimator.evaluate(data.input_fn(data_lib.EVAL), steps=eval_steps)
  exporters_lib.report_metrics(model_dir, result)
  return exporters_lib.jsonable(result)


def export_latest(estimator, serving_fn, model_dir, exports_to_keep=3):
  """Exports the hub module and the serving SavedModel from the latest checkpoint."""
  checkpoint = estimator.latest_checkpoint()
  if checkpoint is None:
    raise FinetuneError(f"No checkpoint in '{model_dir}' to export; train first.")
  hub_exporter = exporters_lib.HubModuleExporter("hub", serving_fn, exports_to_keep=exports_to_keep)
  hub_path = hub_exporter.export(estimator, os.path.join(model_dir, "export", "hub"), checkpoint)
  serving = exporters_lib.ServingExporter("serving", serving_fn, exports_to_keep=exports_to_keep)
  serving_path = serving.export(estimator, os.path.join(model_dir, "export", "serving"), checkpoint,
                                None, True)
  return {"hub": _text(hub_path), "serving": _text(serving_path)}


def predict(estimator, data, model_dir):
  """Writes one JSON line of predictions per eval example to MODEL_DIR/predictions.jsonl."""
  path = os.path.join(model_dir, "predictions.jsonl")
  count = 0
  with tf.io.gfile.GFile(path + ".tmp", "w") as f:
    for prediction in estimator.predict(data.input_fn(data_lib.EVAL, training=False)):
      f.write(json.dumps({k: _plain(v) for k, v in prediction.items()}) + "\n")
      count += 1
  tf.io.gfile.rename(path + ".tmp", path, overwrite=True)
  log.info("Wrote %d predictions to %s", count, path)
  return path


def _plain(value):
  value = np.asarray(value)
  if value.dtype.kind in "SO":
    return [v.decode() if isinstance(v, bytes) else str(v) for v in value.ravel().tolist()]
  return value.tolist()


def _text(path):
  return path.decode() if isinstance(path, bytes) else path


def record_command_line(model_dir, argv):
  """Appends the command that started this run to MODEL_DIR/command_lines.txt."""
  tf.io.gfile.makedirs(model_dir)
  path = os.path.join(model_dir, COMMAND_LOG)
  previous = ""
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as f:
      previous = f.read()
  stamp = datetime.datetime.now().isoformat(timespec="seconds")
  with tf.io.gfile.GFile(path, "w") as f:
    f.write(previous + f"{stamp}  {shlex.join(argv)}\n")
