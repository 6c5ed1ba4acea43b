"""What a trial's directory says about it, from what any `finetune.train` run leaves there.

A trial run by a scheduler from a `--dry_run` line has no sweep files (trial.json,
status.json), only a normal model_dir: the model_dir lock (`.finetune.lock`, pid and host of
the run using it), `operative_config.gin` (the train steps asked for), `metrics.json` (the
latest evaluation and its global step) and checkpoints. `--collect` and a rerun of the sweep
read trials this way, so they agree with the sweep's own status files.
"""

import os
import re

import tensorflow as tf

from finetune import files
from finetune.process import lock

DONE, FAILED, RUNNING = "done", "failed", "running"
PRUNED = "pruned"  # stopped by a search sweep's pruner after an evaluation, with a checkpoint
UNFINISHED, NOT_STARTED = "unfinished", "not started"


def holder(trial_dir):
  """The lock's owner ({"pid", "host", "started", ...}) if a live run holds the model_dir
  (the kernel's lock says so: process/lock.py), else None."""
  return lock.holder(trial_dir)


def _setting(text, name):
  """The value bound to `name` in an operative config, following one macro (`%NAME`)."""
  match = re.search(rf"^{re.escape(name)}\s*=\s*(.+?)\s*$", text, re.M)
  if not match:
    return None
  value = match.group(1)
  if value.startswith("%"):
    return _setting(text, value[1:])
  return value


def latest_checkpoint_step(trial_dir):
  """The step of the model_dir's latest checkpoint, or None."""
  latest = tf.train.latest_checkpoint(trial_dir)
  return int(latest.rsplit("-", 1)[1]) if latest else None


def train_steps(trial_dir):
  """training.train_steps of the run's operative config, or None before it is written."""
  config_path = os.path.join(trial_dir, "operative_config.gin")
  if not tf.io.gfile.exists(config_path):
    return None
  with tf.io.gfile.GFile(config_path) as f:
    text = f.read()
  try:
    return int(_setting(text, "training.train_steps"))
  except (TypeError, ValueError):
    return None


def finished(trial_dir):
  """Whether the run in `trial_dir` trained to its end: metrics.json is at the train steps
  of its operative config, or, with early stopping, at its last checkpoint (early stopping
  evaluates the checkpoint it stops at; a run stopped by a signal does not evaluate)."""
  metrics = files.read_json(os.path.join(trial_dir, "metrics.json")) or {}
  step = metrics.get("global_step")
  config_path = os.path.join(trial_dir, "operative_config.gin")
  if step is None or not tf.io.gfile.exists(config_path):
    return False
  with tf.io.gfile.GFile(config_path) as f:
    text = f.read()
  try:
    train_steps = int(_setting(text, "training.train_steps"))
  except (TypeError, ValueError):
    return False
  if step >= train_steps:
    return True
  early = _setting(text, "training.early_stopping")
  return early not in (None, "None") and step == latest_checkpoint_step(trial_dir)


def state(trial_dir, status=None):
  """done, running (a live run holds the model_dir's lock), failed or pruned (the sweep's
  status file says so), unfinished, or not started."""
  if not tf.io.gfile.isdir(trial_dir):
    return NOT_STARTED
  if holder(trial_dir):
    return RUNNING
  recorded = (status or {}).get("state")
  if recorded == DONE or finished(trial_dir):
    return DONE
  if recorded in (FAILED, PRUNED):
    return recorded
  return UNFINISHED
