"""This process's role in a TF_CONFIG cluster (tf.estimator reads the same variable), and a
parameter server that signals can stop."""

import json
import os


def task_type():
  """chief, worker, ps, evaluator (or master), or None outside a cluster."""
  return json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {}).get("type")


def task_index():
  return json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {}).get("index", 0)


def is_chief():
  """True outside a cluster and on its chief: the task that writes records and exports."""
  return task_type() in (None, "chief", "master")


def serve_until_stopped(serve):
  """Runs `serve()` (a parameter server's start and join) in a daemon thread and waits.

  A parameter server serves until it is stopped. Its join is a C++ call that never returns, and
  Python runs signal handlers only in the main thread between bytecodes: joined on the main
  thread, the server ignored SIGTERM and SIGINT. Waiting here in short Python waits lets the
  command's handler end the process (signals.StopSignal raises Interrupted: one line, exit
  code 143 or 130). An error of the server itself (its port taken) is raised here.
  """
  from finetune.runtime.signals import phase, run_in_thread  # pylint: disable=g-import-not-at-top
  with phase(f"serving as parameter server {task_index()} of the cluster", advice=""):
    run_in_thread(serve, "parameter-server")
