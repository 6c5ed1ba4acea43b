"""This process's role in a TF_CONFIG cluster (tf.estimator reads the same variable), and a
parameter server that signals can stop."""

import dataclasses
import json
import os
from typing import Optional


@dataclasses.dataclass(frozen=True)
class Role:
  """What this process is in a TF_CONFIG cluster, read once per run (Job.role) and asked
  everywhere else: tf.estimator reads the same variable.

  Attributes:
    task_type: chief, worker, ps, evaluator (or master), or None outside a cluster.
    index: the task's index among its type.
  """
  task_type: Optional[str] = None
  index: int = 0

  @classmethod
  def from_environment(cls, environ=None):
    task = json.loads((environ or os.environ).get("TF_CONFIG") or "{}").get("task", {})
    return cls(task.get("type"), task.get("index", 0))

  @property
  def in_cluster(self):
    return self.task_type is not None

  @property
  def is_chief(self):
    """Outside a cluster, and the cluster's chief: the task that writes records and exports."""
    return self.task_type in (None, "chief", "master")

  @property
  def is_cluster_chief(self):
    return self.task_type in ("chief", "master")

  @property
  def is_evaluator(self):
    return self.task_type == "evaluator"

  @property
  def is_parameter_server(self):
    return self.task_type == "ps"


def serve_until_stopped(serve, index):
  """Runs `serve()` (a parameter server's start and join) in a daemon thread and waits.

  A parameter server serves until it is stopped. Its join is a C++ call that never returns, and
  Python runs signal handlers only in the main thread between bytecodes: joined on the main
  thread, the server ignored SIGTERM and SIGINT. Waiting here in short Python waits lets the
  command's handler end the process (signals.StopSignal raises Interrupted: one line, exit
  code 143 or 130). An error of the server itself (its port taken) is raised here.
  """
  from finetune.process.signals import phase, run_in_thread  # pylint: disable=g-import-not-at-top
  with phase(f"serving as parameter server {index} of the cluster", advice=""):
    run_in_thread(serve, "parameter-server")
