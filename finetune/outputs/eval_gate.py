"""A search sweep reads each evaluation before the trial trains on: the trial waits for it.

A sweep that prunes (trials/search.py) decides after each evaluation whether the trial goes
on. Training a small model is faster than the sweep's look at metrics.json, so without a wait
a trial could train past its next evaluation before the verdict lands, and how far it got
would depend on the machine's load. With FINETUNE_EVAL_GATE set (by the sweep, for its own
children only: a command copied from trial.json never waits), the last exporter of each
evaluation waits until MODEL_DIR/eval_gate.json names that evaluation's step. A pruned
trial's SIGTERM is sent before that file is written, so the trial stops after one more
step, with a checkpoint, on the ordinary stop path (process/signals.py). A stop requested
meanwhile (the sweep died: children.py) ends the wait too.
"""

import os
import time

import tensorflow as tf

from finetune import files
from finetune.outputs import metrics
from finetune.process import signals

GATE_ENV = "FINETUNE_EVAL_GATE"
GATE_FILE = "eval_gate.json"


def acknowledge(model_dir, step):
  """The sweep's side: the evaluation at `step` has been read (and any stop sent)."""
  files.write_json_atomically(os.path.join(model_dir, GATE_FILE), {"step": step})


def acknowledged_step(model_dir):
  return (files.read_json(os.path.join(model_dir, GATE_FILE)) or {}).get("step", -1)


class EvalGate(tf.estimator.Exporter):
  """Waits, after each evaluation's exports, until the sweep has read metrics.json."""

  def __init__(self, model_dir, poll_secs=0.05):
    self._model_dir = model_dir
    self._poll_secs = poll_secs

  @property
  def name(self):
    return "eval_gate"

  def export(self, estimator, export_path, checkpoint_path, eval_result, is_the_final_export):
    step = metrics.jsonable(eval_result).get("global_step", 0)
    stop = signals.active()
    while acknowledged_step(self._model_dir) < step:
      if stop is not None and stop.requested.is_set():
        break
      time.sleep(self._poll_secs)
    return None


def from_environment(model_dir):
  """[EvalGate] for a trial of a search sweep, else []."""
  return [EvalGate(model_dir)] if os.environ.get(GATE_ENV) else []
