"""Failures during a run turned into clear errors, and pre-emption turned into a clean stop.

TensorFlow reports data and label mistakes only when a step runs, as an op error deep in a
graph; `explain` recognizes the common ones and says what is wrong in the user's terms.
`PreemptionHook` stops training at the next step after SIGTERM (how schedulers pre-empt), so
the Estimator saves a checkpoint at the current step on the way out.
"""

import re
import threading

import tensorflow as tf

from finetune.errors import FinetuneError

STOP_REQUESTED = threading.Event()
NON_FINITE_LOSS = "Non-finite loss at step"


class Preempted(FinetuneError):
  """Training stopped on request (SIGTERM); the checkpoint at the current step is saved."""


def request_stop(signum=None, frame=None):  # pylint: disable=unused-argument
  """Signal handler: finish the current step, save a checkpoint, stop."""
  STOP_REQUESTED.set()


class PreemptionHook(tf.compat.v1.train.SessionRunHook):
  """Asks the session to stop after the step during which SIGTERM arrived."""

  def after_run(self, run_context, run_values):
    if STOP_REQUESTED.is_set():
      run_context.request_stop()


def loss_check(loss, global_step):
  """An op that fails the step's session.run when the loss is NaN or infinite, so that no
  hook sees the step and no checkpoint is written from it.

  The Assert kernel itself, without the cond that tf.debugging.Assert wraps around it (a
  handful of ops per step for data that is two scalars the step computes anyway).
  """
  return tf.raw_ops.Assert(condition=tf.math.is_finite(loss),
                           data=[tf.constant(NON_FINITE_LOSS),
                                 global_step.read_value(), loss],
                           summarize=3,
                           name="loss_is_finite")


def _values(message, limit=5):
  match = re.search(r"\] = \] \[(.*?)\]\s*$|= \] \[(\[.*?\])", message, re.S)
  text = (match.group(1) or match.group(2)) if match else ""
  return ", ".join(re.findall(r"[^\[\]\s]+", text)[:limit])


def explain(error, model_dir=None):
  """A FinetuneError for a known failure of a running graph or of gin, else None."""
  message = str(error)
  if NON_FINITE_LOSS in message:
    found = re.search(NON_FINITE_LOSS + r"\] \[(\d+)\] \[loss\]? ?\[?([^\]\s]+)", message)
    step = found.group(1) if found else "?"
    latest = tf.train.latest_checkpoint(model_dir) if model_dir else None
    return FinetuneError(
        f"The loss became NaN or infinite at step {step}; training stopped there and "
        f"nothing from that step was saved. The last good checkpoint is kept ({latest or 'none yet'}). Lower "
        "learning_rate_schedule.base_learning_rate, set optimization.clip_gradient_norm, or "
        "check the data for NaN values.")
  if "Labels must be <= n_classes - 1" in message:
    return FinetuneError(
        f"A label is outside the head's classes (labels seen: {_values(message)}): integer "
        "labels must be 0..n_classes-1. Check the label column, or the head's n_classes "
        "(or give a label_vocabulary for named labels).")
  if "Labels must be >= 0" in message and ("Lookup" in message or "[-1]" in message):
    # A word missing from the vocabulary is looked up as -1.
    return FinetuneError("A label is not in the head's label_vocabulary (or is -1). Add it to "
                         "label_vocabulary (and n_classes), or fix the label column.")
  if "Labels must be >= 0" in message:
    return FinetuneError(f"A label is negative (labels seen: {_values(message)}); class "
                         "labels must be 0..n_classes-1.")
  number = re.search(r"StringToNumberOp could not correctly convert string: (.*?)(\n|$)", message)
  if number:
    return FinetuneError(
        f"Label '{number.group(1).strip()}' is not a number and the head has no "
        "label_vocabulary. Give the head label_vocabulary = [...] with the label names, or "
        "use integer labels.")
  fields = re.search(r"Expect (\d+) fields but have (\d+) in record", message)
  if fields:
    return FinetuneError(
        f"A CSV row has {fields.group(2)} fields where the header has {fields.group(1)}: the "
        "file is malformed (an unquoted delimiter, or a missing value). Fix the row; quote "
        "fields that contain the delimiter.")
  parse = re.search(r"Field (\d+) in record (\d+) is not a valid (\w+): ?(.*?)(\n|$)", message)
  if parse:
    return FinetuneError(
        f"CSV field {parse.group(1)} of a row is not a valid {parse.group(3)}: "
        f"'{parse.group(4).strip()}'. Declare the column's type in csv_data.column_types or "
        "fix the value.")
  if re.search(
      r"Key .* not found in checkpoint|Assign requires shapes of both tensors|"
      r"tensor .* shape .* in the checkpoint", message):
    return different_model(model_dir, message.splitlines()[0][:200])
  required = re.search(r"Required bindings for `(\w+)` not provided in config: \[(.*?)\]", message)
  if required:
    names = [n.strip(" '\"") for n in required.group(2).split(",")]
    return FinetuneError("Missing required setting" + ("s" if len(names) > 1 else "") + ": " +
                         ", ".join(f"{required.group(1)}.{n}" for n in names) +
                         ". Set it in the config or with --gin_bindings.")
  return None


def different_model(model_dir, detail):
  return FinetuneError(
      f"model_dir '{model_dir}' holds checkpoints of a different model ({detail}). "
      "Nothing was changed there. Start fresh with a new --model_dir, or keep its weights "
      f"as a starting point with experiment.warm_start_from = '{model_dir}' in a new "
      "--model_dir.")
