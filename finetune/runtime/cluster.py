"""This process's role in a TF_CONFIG cluster (tf.estimator reads the same variable)."""

import json
import os


def task_type():
  """chief, worker, ps, evaluator (or master), or None outside a cluster."""
  return json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {}).get("type")


def is_chief():
  """True outside a cluster and on its chief: the task that writes records and exports."""
  return task_type() in (None, "chief", "master")
