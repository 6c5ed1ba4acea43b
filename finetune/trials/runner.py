"""Running a sweep's trials as processes, `parallel` at a time, with their state on disk.

A trial is one `python -m finetune.train` run with extra gin bindings and its own model_dir
under SWEEP_DIR/trials/<name>/, which also holds `trial.json` (its parameters and command)
and `status.json` (running, done or failed, wall time, the error). A rerun skips finished
trials (by that record or by the model_dir alone, state.py), waits for a trial that a live
process still runs (a killed sweep's trial that is stopping, a `--dry_run` line), then reads or
resumes it, and resumes the others from their last checkpoint. Trials get SIGTERM when the
sweep dies (children.py). Trials share the module cache (TFHUB_CACHE_DIR).
"""

import logging
import os
import shlex
import subprocess
import time

import tensorflow as tf

from finetune import files
from finetune.formatting import format_duration
from finetune.process import signals
from finetune.trials import children
from finetune.trials import state
from finetune.trials.grid import trial_command
from finetune.trials.state import DONE, FAILED, RUNNING  # noqa: F401  (the states' home)

log = logging.getLogger("finetune")
TRIALS = "trials"



class _Started:
  """A trial this sweep started: a `finetune.train` child in a session of its own that gets
  SIGTERM if the sweep dies (children.py)."""

  adopted = False

  def __init__(self, command, log_path, env):
    self.log_file = open(log_path, "a")
    self.proc = subprocess.Popen(command,
                                 stdout=self.log_file,
                                 stderr=subprocess.STDOUT,
                                 **children.popen_kwargs(env))
    self.started = time.time()

  def poll(self):
    code = self.proc.poll()
    if code is not None:
      self.log_file.close()
    return code

  def terminate(self):
    if self.proc.poll() is None:
      self.proc.terminate()

  def wait(self):
    self.proc.wait()
    self.log_file.close()


class _Adopted:
  """A trial that another live process runs (a killed sweep's trial still stopping, a
  scheduler's `--dry_run` line): waited for, then judged by its model_dir."""

  adopted = True

  def __init__(self, trial_dir):
    self.trial_dir = trial_dir
    self.started = time.time()

  def poll(self):
    return None if state.holder(self.trial_dir) else 0

  def terminate(self):
    pass  # not this sweep's process

  def wait(self):
    pass


class Sweep:
  """Runs the planned trials, `parallel` at a time, and keeps their state on disk."""

  def __init__(self, sweep_dir, gin_files, gin_bindings, trials, parallel=1, cores=None,
               allow_gin_imports=False):
    self.sweep_dir = sweep_dir
    self.allow_gin_imports = allow_gin_imports
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
    line = trial_command(self.gin_files, self.gin_bindings, values, self.trial_dir(name),
                         self.threads)
    return line + ["--allow_gin_imports"] if self.allow_gin_imports else line

  def cache_dir(self):
    """The module cache the trials share: the caller's TFHUB_CACHE_DIR, else the sweep's own."""
    return os.environ.get("TFHUB_CACHE_DIR") or os.path.join(self.sweep_dir, "hub_cache")

  def commands(self):
    """The trials' command lines for a scheduler, each starting `env TFHUB_CACHE_DIR=...`, so
    that its tasks share one module cache as the sweep's own trials do."""
    prefix = ["env", f"TFHUB_CACHE_DIR={self.cache_dir()}"]
    return [prefix + self.command(name, values) for name, values in self.trials]

  def env(self):
    """The trials' environment: the caller's, with the shared module cache."""
    return dict(os.environ, TFHUB_CACHE_DIR=self.cache_dir())

  def _status(self, name):
    return files.read_json(os.path.join(self.trial_dir(name), "status.json")) or {}

  def status(self, name):
    """done (by the sweep's record or the model_dir), running, failed, unfinished..."""
    return state.state(self.trial_dir(name), self._status(name))

  def run(self):
    """Runs unfinished trials; returns {name: state}. A failed trial stops no other."""
    env = self.env()
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
          with signals.held():  # a stop now must find the new trial registered, to stop it
            running[name] = (values, self.adopt(name, values) or self.start(name, values, env))
        time.sleep(0.2)
        for name, (values, child) in list(running.items()):
          code = child.poll()
          if code is None:
            continue
          del running[name]
          outcome = self.finish(name, child, code)
          if outcome is None:  # another process had it, and stopped early: run it now
            pending.insert(0, (name, values))
            continue
          states[name] = outcome
          if isinstance(child, _Started):
            durations.append(time.time() - child.started)
          self._progress(states, len(running), len(pending), durations)
    finally:  # interrupted: stop the children (all at once: each stops after its step), keep state
      for _, child in running.values():
        child.terminate()
      for _, child in running.values():
        child.wait()
    return states

  def record(self, name, values):
    tf.io.gfile.makedirs(self.trial_dir(name))
    files.write_json_atomically(os.path.join(self.trial_dir(name), "trial.json"), {
        "name": name,
        "params": values,
        "command": shlex.join(self.command(name, values))
    })

  def adopt(self, name, values):
    """Waits for a live process that holds the trial's model_dir instead of failing on it."""
    owner = state.holder(self.trial_dir(name))
    if owner is None:
      return None
    self.record(name, values)
    log.info("waiting for %s: pid %s (started %s) is running it; its results are read when it "
             "exits", name, owner["pid"], owner.get("started", "?"))
    return _Adopted(self.trial_dir(name))

  def start(self, name, values, env):
    trial_dir = self.trial_dir(name)
    self.record(name, values)
    previous = self._status(name)
    files.write_json_atomically(os.path.join(trial_dir, "status.json"), {
        "state": RUNNING,
        "started": previous.get("started", time.time()),
        "wall_time_secs": previous.get("wall_time_secs", 0.0)  # a resumed trial adds to it
    })
    log.info("start %s", name)
    return _Started(self.command(name, values), os.path.join(trial_dir, "trial.log"), env)

  def finish(self, name, child, returncode):
    """Records the trial's outcome; None if it must run (again) or be waited for."""
    trial_dir = self.trial_dir(name)
    adopted = child.adopted
    if adopted and not state.finished(trial_dir):
      return None  # stopped before its end (a killed sweep's trial): resume it
    if returncode and state.holder(trial_dir):
      return None  # another process took the model_dir first: wait for it
    previous = self._status(name)
    elapsed = 0.0 if adopted else time.time() - child.started
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
    mean = sum(durations) / len(durations) if durations else 0.0
    eta = mean * (running + pending) / self.parallel
    log.info("trials: %d done, %d running, %d failed, %d waiting; eta %s", done, running, failed,
             pending, format_duration(eta))


def _last_error(log_path):
  with open(log_path) as f:
    lines = [l.strip() for l in f if l.strip()]
  prefix = "finetune: error: "
  errors = [l[len(prefix):] for l in lines if l.startswith(prefix)]
  return (errors or lines or ["(no output)"])[-1]
