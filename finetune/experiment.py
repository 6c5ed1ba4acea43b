"""The top-level gin configurable behind every entry point: `experiment`.

    experiment.module = @hub_module()          the pretrained module (or a list of them,
                                               each in a gin scope: modules/module_set.py)
    experiment.data = @csv_data()              the data
    experiment.head = @binary_class_head()     the task's head
    experiment.head_network = @head_network()  new layers under the head
    experiment.training = @training()          steps, optimization, early stopping
    experiment.evaluation = @evaluation()      evaluation and exports
    experiment.runtime = @estimator_runtime()  or @tpu_runtime()

The wiring lives in configs/base/plumbing.gin, which config.parse reads before every config;
a task config sets values. `run` checks everything against the module and the data before the
Estimator exists, so a mistake costs nothing and writes nothing to model_dir.
"""

import contextlib
from typing import Optional, Sequence, Union

import gin
import tensorflow as tf

from finetune import schedules
from finetune.inputs.base import DataSource
from finetune.job import Job
from finetune.modules.hub_module import HubModule
from finetune.prediction.settings import PredictRequest
from finetune.prediction.settings import Prediction
from finetune.runtime.base import Runtime
from finetune.settings import Evaluation
from finetune.settings import Training
from finetune.training.head_base import FinetuneHead
from finetune.training.head_network import HeadNetwork
from finetune.outputs import module_record
from finetune.outputs.run_record import record_command_line
from finetune.runtime import diagnosis
from finetune.runtime import preflight
from finetune.runtime import rollback
from finetune.process.lock import ModelDirLock
from finetune.process.signals import StopSignal

WRITING_SCHEDULES = ("train_and_evaluate", "train", "export", "predict")
TRAINING_SCHEDULES = ("train_and_evaluate", "train")


@gin.configurable("experiment",
                  denylist=["model_dir", "schedule", "hooks", "command_line", "request"])
def run(model_dir,
        schedule="train_and_evaluate",
        module: Union[HubModule, Sequence[HubModule]] = gin.REQUIRED,
        data: DataSource = gin.REQUIRED,
        head: FinetuneHead = gin.REQUIRED,
        head_network: HeadNetwork = gin.REQUIRED,
        training: Training = gin.REQUIRED,
        evaluation: Evaluation = gin.REQUIRED,
        runtime: Runtime = gin.REQUIRED,
        prediction: Optional[Prediction] = None,
        hooks=(),
        command_line=None,
        request: Optional[PredictRequest] = None):
  """Fine-tunes, evaluates, exports or predicts, as `schedule` says.

  Args:
    model_dir: where checkpoints, events, exports and metrics.json go (not set in gin).
    schedule: train_and_evaluate, train, evaluate, export, predict, or check (a training's
      checks and graph, nothing written).
    module, data, head, head_network, training, evaluation, runtime: the pieces (see above).
    prediction: what a batch prediction's rows hold (@prediction(): kept columns, top_k, ...).
    hooks: extra SessionRunHooks for training (from Python, e.g. measurements).
    command_line: argv of the command, recorded in MODEL_DIR/command_lines.txt once the
      configuration is valid.
    request: a predict run's files, output and checkpoint (prediction/settings.py).

  Returns:
    The final eval metrics (dict) for train_and_evaluate and evaluate, {kind: path} of the
    exports for export, the predictions file for predict, None for train, and for check
    {"variables": n, "trainable_variables": n, "parameters": n} of the training graph.

  Raises:
    FinetuneError: a mistake in the config, data or module, before anything is written; or
      Preempted after SIGTERM or SIGINT (the checkpoint at the current step is saved).
  """
  job = Job(model_dir, module, data, head, head_network, training, evaluation, runtime,
            prediction, request)
  job.validate(schedule)
  module_record.check(model_dir, job.module)  # the modules in the order they were trained
  if schedule == "check":
    return schedules.check(job)  # reads, builds a scratch graph, writes nothing
  existed, elsewhere = _check_model_dir(job, model_dir, schedule)
  recorded = None if elsewhere else command_line
  with StopSignal() as stop, _guarded(model_dir, schedule, recorded, job.trained, existed,
                                          job.find_data_problem, job.role, job.module):
    job.stop = stop
    result = schedules.RUNNERS[schedule](job, hooks)
  # A signal during the final evaluation or export of a finished training stopped nothing.
  if (schedule in TRAINING_SCHEDULES and stop.requested.is_set() and
      job.global_step() < job.training.train_steps):
    raise stop.preempted(job.global_step(), job.estimator.latest_checkpoint())
  return result


def _check_model_dir(job, model_dir, schedule):
  """What the model_dir must offer this schedule (a readable checkpoint, one of this model,
  writable), checked before anything is recorded. Returns (whether model_dir existed before
  these checks, whether a batch prediction writes elsewhere and so leaves it alone)."""
  preflight.check_latest_checkpoint_reads(model_dir, schedule in TRAINING_SCHEDULES)
  if schedule not in TRAINING_SCHEDULES:
    schedules.require_checkpoint(job, schedule)
  existed = tf.io.gfile.isdir(model_dir)  # the checks below may create it
  # A batch prediction into another file leaves the model_dir alone: it may be read-only.
  elsewhere = schedule == "predict" and job.request.writes_elsewhere
  if schedule in WRITING_SCHEDULES and not elsewhere:
    preflight.check_writable(model_dir)
  if schedule in TRAINING_SCHEDULES:
    preflight.check_checkpoint_matches(model_dir, job.model.model_fn,
                                       job.data.feature_specs(), job.estimator.config)
  return existed, elsewhere


@contextlib.contextmanager
def _guarded(model_dir, schedule, command_line, trained, existed, locate, role, modules):
  """Around a run that passed every check: record the command, hold the model_dir lock,
  clear half-written exports of a killed run, and explain TensorFlow's runtime errors
  (`locate` names the bad record of a data error). A run that fails before a training step
  of its own (`trained`) leaves model_dir as it was when it took the lock (`existed`: whether
  there was a model_dir before the run's checks)."""
  writes = schedule in ("train_and_evaluate", "train", "export") and role.is_chief
  restored = None
  try:
    with ModelDirLock(model_dir, command_line) if writes else contextlib.nullcontext():
      # Only under the lock, where no other run writes: the rest could be its work.
      if writes and schedule in TRAINING_SCHEDULES:  # before the snapshot: kept on failure
        preflight.set_aside_damaged(model_dir)
      undoable = writes and not role.in_cluster
      snapshot = rollback.Snapshot(model_dir, existed) if undoable else None
      try:
        if command_line and role.is_chief:
          record_command_line(model_dir, command_line)
        if schedule in TRAINING_SCHEDULES and role.is_chief:
          module_record.write(model_dir, modules)
        if writes:  # only under the lock: a running training's exports are never touched
          preflight.remove_partial_exports(model_dir, keep_best=role.in_cluster)
        elif role.is_evaluator and schedule == "train_and_evaluate":
          preflight.remove_partial_best_exports(model_dir)
        yield
      except Exception as e:
        if snapshot and not trained.trained:
          snapshot.restore()  # before the explanation, which may name the latest checkpoint
          restored = snapshot
        if isinstance(e, (tf.errors.OpError, ValueError, OSError)):  # OSError: a full disk
          raise diagnosis.explain(e, model_dir, locate) or e
        raise
      finally:
        # The Estimator's event writers stay cached and open: complete the files now.
        tf.compat.v1.summary.FileWriterCache.clear()
  finally:
    if restored:
      restored.remove_if_empty()  # a model_dir this run created, once its lock is gone
