"""Running a sweep's trials as processes, `parallel` at a time, with their state on disk.

A trial is one `python -m finetune.train` run with extra gin bindings and its own model_dir
under SWEEP_DIR/trials/<name>/, which also holds `trial.json` (its parameters and command)
and `status.json` (running, done or failed, wall time, the error). A rerun skips finished
trials and resumes the others from their last checkpoint. Trials share the module cache
(TFHUB_CACHE_DIR).
"""

import logging
import os
import shlex
import subprocess
import time

import tensorflow as tf

from finetune import files
from finetune.formatting import format_duration
from finetune.trials.grid import trial_command

log = logging.getLogger("finetune")
TRIALS = "trials"
DONE, FAILED, RUNNING = "done", "failed", "running"



class Sweep:
  """Runs the planned trials, `parallel` at a time, and keeps their state on disk."""

  def __init__(self, sweep_dir, gin_files, gin_bindings, trials, parallel=1, cores=None):
    self.sweep_dir = sweep_dir
    self.gin_files = list(gin_files)
    self.gin_bindings = list(gin_bindings)
    self.trials = trials
    self.parallel = max(1, parallel)
    cores = cores or os.cpu_count() or 1
    # N trials on N cores must not each start a thread pool per core.
    self.threads = max(1, cores // self.parallel) if self.parallel > 1 else 0

  def trial_dir(self, name):
    return os.path.join(self.sweep_dir, TRIALS, name)

  def command(self, name, values):
    return trial_command(self.gin_files, self.gin_bindings, values, self.trial_dir(name),
                         self.threads)

  def commands(self):
    return [self.command(name, values) for name, values in self.trials]

  def status(self, name):
    return (files.read_json(os.path.join(self.trial_dir(name), "status.json")) or {}).get("state")

  def run(self):
    """Runs unfinished trials; returns {name: state}. A failed trial stops no other."""
    env = dict(os.environ)
    env.setdefault("TFHUB_CACHE_DIR", os.path.join(self.sweep_dir, "hub_cache"))
    pending = [(n, v) for n, v in self.trials if self.status(n) != DONE]
    skipped = len(self.trials) - len(pending)
    if skipped:
      log.info("%d of %d trials already done; running the other %d", skipped, len(self.trials),
               len(pending))
    running, states, durations = {}, {}, []
    try:
      while pending or running:
        while pending and len(running) < self.parallel:
          name, values = pending.pop(0)
          running[name] = self._start(name, values, env)
        time.sleep(0.2)
        for name, (proc, started, log_file) in list(running.items()):
          if proc.poll() is None:
            continue
          log_file.close()
          elapsed = time.time() - started
          durations.append(elapsed)
          states[name] = self._finish(name, proc.returncode, elapsed)
          del running[name]
          self._progress(states, len(running), len(pending), durations)
    finally:
      for proc, _, log_file in running.values():  # interrupted: stop children, keep state
        proc.terminate()
        proc.wait()
        log_file.close()
    return states

  def _start(self, name, values, env):
    trial_dir = self.trial_dir(name)
    tf.io.gfile.makedirs(trial_dir)
    command = self.command(name, values)
    files.write_json_atomically(os.path.join(trial_dir, "trial.json"), {
        "name": name,
        "params": values,
        "command": shlex.join(command)
    })
    previous = files.read_json(os.path.join(trial_dir, "status.json")) or {}
    files.write_json_atomically(os.path.join(trial_dir, "status.json"), {
        "state": RUNNING,
        "started": previous.get("started", time.time()),
        "wall_time_secs": previous.get("wall_time_secs", 0.0)  # a resumed trial adds to it
    })
    log_file = open(os.path.join(trial_dir, "trial.log"), "a")
    log.info("start %s", name)
    proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    return proc, time.time(), log_file

  def _finish(self, name, returncode, elapsed):
    trial_dir = self.trial_dir(name)
    previous = files.read_json(os.path.join(trial_dir, "status.json")) or {}
    status = {
        "state": DONE if returncode == 0 else FAILED,
        "returncode": returncode,
        "started": previous.get("started"),
        "wall_time_secs": round(elapsed + previous.get("wall_time_secs", 0.0), 2)
    }
    if returncode:
      status["error"] = _last_error(os.path.join(trial_dir, "trial.log"))
      log.info("FAILED %s: %s", name, status["error"])
    files.write_json_atomically(os.path.join(trial_dir, "status.json"), status)
    return status["state"]

  def _progress(self, states, running, pending, durations):
    done = sum(s == DONE for s in states.values())
    failed = sum(s == FAILED for s in states.values())
    mean = sum(durations) / len(durations)
    eta = mean * (running + pending) / self.parallel
    log.info("trials: %d done, %d running, %d failed, %d waiting; eta %s", done, running, failed,
             pending, format_duration(eta))


def _last_error(log_path):
  with open(log_path) as f:
    lines = [l.strip() for l in f if l.strip()]
  errors = [l for l in lines if l.startswith("finetune: error:")]
  return (errors or lines or ["(no output)"])[-1]
