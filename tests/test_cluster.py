"""A real TF_CONFIG cluster on 127.0.0.1: chief, worker, parameter server and evaluator, all
running `python -m finetune.train` with the same config, fine-tuning a real module."""

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys

import pytest

from tests import helpers

UNBOUNDED = 10**9  # until the test has seen what it waits for, then SIGTERM and a resume


def free_ports(n):
  """Ports free now, below the kernel's ephemeral range: between this check and the servers'
  start (seconds later, after TensorFlow loads) no outgoing connection or `bind(0)`, such as
  the tasks' own gRPC clients, can take one; an ephemeral port could be."""
  try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
      ephemeral = int(f.read().split()[0])
  except (OSError, ValueError, IndexError):
    ephemeral = 32768
  candidates = list(range(max(1024, ephemeral - 12000), ephemeral))
  random.SystemRandom().shuffle(candidates)
  ports = []
  for port in candidates:
    with socket.socket() as s:
      try:
        s.bind(("127.0.0.1", port))
      except OSError:
        continue
    ports.append(port)
    if len(ports) == n:
      return ports
  raise RuntimeError(f"no {n} free ports below {ephemeral}")


class Cluster:
  """Starts and stops the tasks of one cluster; each task's output goes to a log file."""

  def __init__(self, tmp_path, handle):
    chief, worker, ps = free_ports(3)
    self.spec = {
        "chief": [f"127.0.0.1:{chief}"],
        "worker": [f"127.0.0.1:{worker}"],
        "ps": [f"127.0.0.1:{ps}"]
    }
    self.tmp_path = tmp_path
    self.model_dir = tmp_path / "model"
    self.handle = handle
    self.bindings = []
    self.procs = {}
    self.train_steps = UNBOUNDED

  def command(self):
    bindings = [
        f"MODULE_HANDLE = '{self.handle}'", f"TRAIN_STEPS = {self.train_steps}",
        "learning_rate_schedule.warmup_steps = 0", "run_config.save_checkpoints_steps = 500",
        "training.progress_every_secs = 0.3", "evaluation.throttle_secs = 1"
    ] + self.bindings
    return [
        sys.executable, "-m", "finetune.train", "--gin_file=digits/finetune.gin",
        f"--model_dir={self.model_dir}"
    ] + [f"--gin_bindings={b}" for b in bindings]

  def start(self, task, index=0):
    env = dict(os.environ,
               TF_CONFIG=json.dumps({
                   "cluster": self.spec,
                   "task": {
                       "type": task,
                       "index": index
                   }
               }))
    log = open(self.tmp_path / f"{task}.log", "a")
    self.procs[task] = subprocess.Popen(self.command(),
                                        cwd=helpers.REPO,
                                        env=env,
                                        stdout=log,
                                        stderr=subprocess.STDOUT)

  def log(self, task):
    return (self.tmp_path / f"{task}.log").read_text()

  def wait(self, task, timeout=300):
    code = self.procs[task].wait(timeout=timeout)
    assert code == 0, f"{task} exited {code}:\n{self.log(task)[-3000:]}"

  def stop(self):
    for proc in self.procs.values():
      if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


@pytest.fixture
def cluster(tmp_path, digits_module):
  running = Cluster(tmp_path, digits_module)
  yield running
  running.stop()


def progress_steps(log):
  return [int(line.split("step ")[1].split("/")[0]) for line in log.splitlines() if "  step " in line]


def wait_for_progress(cluster, task, after=0):
  assert helpers.wait_for(lambda: len(progress_steps(cluster.log(task))) > after), cluster.log(task)


def preempt_then_finish(cluster, more_steps=100):
  """SIGTERM the training tasks (each saves a checkpoint and exits 143), then run the same
  commands to a step just past the saved one, with an evaluator: the job finishes."""
  for task in ("chief", "worker"):
    cluster.procs[task].send_signal(signal.SIGTERM)
  for task in ("chief", "worker"):
    assert cluster.procs[task].wait(timeout=300) == 143, cluster.log(task)[-3000:]
  cluster.train_steps = helpers.checkpoint_step(cluster.model_dir) + more_steps
  for task in ("chief", "worker", "evaluator"):
    cluster.start(task)
  for task in ("chief", "worker", "evaluator"):
    cluster.wait(task)


def check_finished(cluster):
  # Asynchronous replicas stop on their own after seeing max_steps, so steps already in
  # flight on the other replica can add a few.
  train_steps = cluster.train_steps
  step = helpers.checkpoint_values(str(cluster.model_dir))["global_step"]
  assert train_steps <= step <= train_steps + 5
  metrics = json.loads((cluster.model_dir / "metrics.json").read_text())
  assert metrics["global_step"] >= train_steps and "accuracy" in metrics
  hub_exports = os.listdir(cluster.model_dir / "export" / "hub")
  assert len(hub_exports) == 1  # written once, by the chief, after training
  assert "Fine-tuned module (hub) exported" in cluster.log("chief")
  assert "exported to" not in cluster.log("worker")
  # The evaluator alone runs exporters after its evaluations: the best module (the config's
  # evaluation.best_export_metric = "accuracy") is its, and nothing else.
  exported_by_evaluator = re.findall(r"\((\w+)\) exported to", cluster.log("evaluator"))
  assert set(exported_by_evaluator) == {"best_hub"}, cluster.log("evaluator")[-3000:]
  best = helpers.latest_subdir(str(cluster.model_dir / "export" / "best_hub"))
  with open(os.path.join(best, "eval_result.json")) as f:
    assert "accuracy" in json.load(f)
  assert os.path.exists(os.path.join(best, "digits", "tfhub_module.pb"))


def stop_parameter_server(cluster):
  """The job is done; a scheduler stops the ps with SIGTERM, and it exits with one line."""
  ps = cluster.procs["ps"]
  assert ps.poll() is None  # it serves until stopped
  ps.send_signal(signal.SIGTERM)
  assert ps.wait(timeout=60) == 143, cluster.log("ps")[-3000:]
  last = cluster.log("ps").strip().splitlines()[-1]
  assert last == "finetune: Stopped by SIGTERM while serving as parameter server 0 of the cluster."
  assert "Traceback" not in cluster.log("ps")


def test_cluster_fine_tunes_two_modules_through_a_killed_worker_and_the_ps_stops_on_sigterm(
    cluster):
  """One cluster job for all of it (each job costs its tasks' start-ups): both replicas train
  the shared variables, a SIGKILLed worker restarts and trains again, a half-written best
  export of a killed evaluator is left to the evaluator, a SIGTERM preempts chief and worker,
  the same commands finish the job, and the ps stops on SIGTERM with one line. Two modules:
  the chief exports both, the evaluator both best ones. Before the preemption one step per
  session.run; the resumed job runs the configs' default loop of 10 (a run may resume with
  another steps_per_run)."""
  modules = ["experiment.module = [@a/hub_module(), @b/hub_module()]",
             "b/hub_module.export_name = 'b'"]
  cluster.bindings = ["training.steps_per_run = 1"] + modules
  killed_evaluators_export = cluster.model_dir / "export" / "best_hub" / "temp-1234567890"
  killed_evaluators_export.mkdir(parents=True)  # the chief leaves it to the evaluator
  for task in ("ps", "chief", "worker"):
    cluster.start(task)
  wait_for_progress(cluster, "chief")
  wait_for_progress(cluster, "worker")  # both replicas train the shared variables
  cluster.procs["worker"].send_signal(signal.SIGKILL)
  cluster.procs["worker"].wait()
  seen = len(progress_steps(cluster.log("worker")))
  cluster.start("worker")
  wait_for_progress(cluster, "worker", after=seen)  # the restarted worker trains again
  assert killed_evaluators_export.exists()
  cluster.bindings = modules  # the configs' steps_per_run = 10 from here on
  preempt_then_finish(cluster)
  check_finished(cluster)
  assert not killed_evaluators_export.exists()  # cleared by the evaluator at its start
  values = helpers.checkpoint_values(str(cluster.model_dir))
  for scope in ("a", "b"):
    assert helpers.moved(helpers.module_values(cluster.handle)["hidden/kernel"],
                         values[f"{scope}/hidden/kernel"])
  for folder in ("hub", "best_hub"):
    export = helpers.latest_subdir(str(cluster.model_dir / "export" / folder))
    assert {"b", "digits"} <= set(os.listdir(export)), folder
  stop_parameter_server(cluster)
