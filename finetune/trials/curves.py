"""A trial's evaluation curve (metric against step), read from the eval event files that
every `finetune.train` run writes (MODEL_DIR/eval/): so grid trials, search trials and runs
from `--dry_run` lines all have one, local or gs://."""

import os

import tensorflow as tf
from tensorboard.backend.event_processing import event_file_loader

EVAL_DIR = "eval"


def eval_curve(trial_dir, metric):
  """[(step, value)] of every evaluation of `metric`, by step (a resumed run's repeated
  evaluation of a step counts once: the latest)."""
  folder = os.path.join(trial_dir, EVAL_DIR)
  if not tf.io.gfile.isdir(folder):
    return []
  points = {}
  for name in sorted(tf.io.gfile.listdir(folder)):
    if "tfevents" not in name:
      continue
    try:
      for event in event_file_loader.LegacyEventFileLoader(os.path.join(folder, name)).Load():
        for value in event.summary.value:
          if value.tag == metric and value.HasField("simple_value"):
            points[event.step] = value.simple_value
    except (tf.errors.OpError, OSError):  # a file being written, or gone: what was read counts
      continue
  return sorted(points.items())
