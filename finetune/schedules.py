"""The one schedule runner: train, evaluate, export, predict and train_and_evaluate, the same
for every runtime (the Job's runtime adapts the Estimator and the input_fns)."""

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.inputs.base import EVAL
from finetune.outputs import exporters
from finetune.outputs import metrics
from finetune.outputs import predictions
from finetune.prediction import batch
from finetune.prediction import checkpoints
from finetune.runtime import cluster
from finetune.runtime import preflight


def require_checkpoint(job, schedule):
  """The latest checkpoint's path (predict: the one --checkpoint chooses); a FinetuneError if
  there is none."""
  if schedule == "predict":
    path, _, _ = checkpoints.choose(job.model_dir, job.request.checkpoint,
                                    job.evaluation.best_export_metric)
    return path
  checkpoint = job.estimator.latest_checkpoint()
  if checkpoint is None:
    raise FinetuneError(f"No checkpoint in '{job.model_dir}' to {schedule}; train first "
                        "(--schedule=train or train_and_evaluate).")
  return checkpoint


def train(job, hooks=()):
  job.estimator.train(job.train_input_fn(),
                      max_steps=job.training.train_steps,
                      hooks=job.train_hooks(hooks))
  return None


def evaluate(job, hooks=()):
  del hooks
  checkpoint = require_checkpoint(job, "evaluate")
  result = job.estimator.evaluate(job.input_fn(EVAL),
                                  steps=job.evaluation.eval_steps,
                                  checkpoint_path=checkpoint)
  metrics.report(job.model_dir, result)
  return metrics.jsonable(result)


def export(job, hooks=()):
  """The hub module and the serving SavedModel from the latest checkpoint: {kind: path}."""
  del hooks
  checkpoint = require_checkpoint(job, "export")
  return exporters.export_all(job.estimator, job.model_dir, job.final_exporters(), checkpoint)


def predict(job, hooks=()):
  """Predictions for --predict_files (prediction/batch.py), or, without them, the eval set's
  raw predictions in MODEL_DIR/predictions.jsonl; returns the file's path."""
  del hooks
  if job.request.files:
    return batch.predict_files(job, job.request)
  checkpoint = batch.choose_checkpoint(job, job.request)
  outputs = job.estimator.predict(job.input_fn(EVAL, training=False), checkpoint_path=checkpoint)
  return predictions.write(outputs, job.model_dir)


def train_and_evaluate(job, hooks=()):
  """Trains, evaluating and exporting at every checkpoint; returns the final metrics."""
  train_spec = tf.estimator.TrainSpec(job.train_input_fn(),
                                      max_steps=job.training.train_steps,
                                      hooks=job.train_hooks(hooks))
  eval_spec = tf.estimator.EvalSpec(job.input_fn(EVAL),
                                    steps=job.evaluation.eval_steps,
                                    exporters=job.exporters(),
                                    start_delay_secs=0,
                                    throttle_secs=job.evaluation.throttle_secs)
  role = job.role
  if role.is_parameter_server:  # serves until stopped; in a thread, so that SIGTERM can stop it
    cluster.serve_until_stopped(
        lambda: tf.estimator.train_and_evaluate(job.estimator, train_spec, eval_spec),
        role.index)
    return None
  # Locally this returns (eval result, export results); in a cluster, None on most tasks.
  outcome = tf.estimator.train_and_evaluate(job.estimator, train_spec, eval_spec)
  if role.is_cluster_chief:
    if not job.preempted():
      export(job)
    return {"global_step": job.global_step()}
  if role.is_evaluator:  # its MetricsReporter wrote metrics.json after each evaluation
    return metrics.read(job.model_dir)
  if role.in_cluster:  # workers and parameter servers report nothing
    return None
  if not outcome or outcome[0] is None:
    # Training was already complete (a rerun of a finished job): report its metrics anyway.
    return evaluate(job)
  return metrics.jsonable(outcome[0])


def check(job):
  """What a training would check and build, with nothing written: the training graph (input
  pipeline, module, head, optimizer) in a scratch graph, and, if model_dir holds a
  checkpoint, that it is this model's. Found here, a mistake costs seconds, not a queued job."""
  estimator = job.estimator  # building an Estimator writes nothing; its train() would
  preflight.check_checkpoint_matches(job.model_dir, job.model.model_fn, job.data.feature_specs(),
                                     estimator.config)
  with tf.Graph().as_default():
    tf.compat.v1.train.get_or_create_global_step()
    # pylint: disable=protected-access  (the Estimator's own calls, so a TPUEstimator's too)
    features, labels, _ = estimator._get_features_and_labels_from_input_fn(
        job.train_input_fn(), tf.estimator.ModeKeys.TRAIN)
    estimator._call_model_fn(features, labels, tf.estimator.ModeKeys.TRAIN, estimator.config)
    # pylint: enable=protected-access
    variables = tf.compat.v1.global_variables()
    return {
        "variables": len(variables),
        "trainable_variables": len(tf.compat.v1.trainable_variables()),
        "parameters": int(sum(v.shape.num_elements() or 0 for v in variables)),
    }


RUNNERS = {
    "train": train,
    "evaluate": evaluate,
    "export": export,
    "predict": predict,
    "train_and_evaluate": train_and_evaluate,
}
