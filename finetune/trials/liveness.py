"""A killed worker's trial does not hold the study: heartbeats, stale trials and retries.

Each worker (one sweep process) writes who runs each of its trials into the trial (host,
pid, and a heartbeat time renewed every HEARTBEAT_SECS), in the study itself, so that this
works for every storage (Optuna's own heartbeat is for RDB storages only). A running trial is
stale when its worker is a dead process on this host, or its heartbeat is older than
STALE_SECS (another host: their clocks are assumed within a minute of each other). A stale
trial is failed and a copy with the same parameters and trial directory is queued: the next
free worker takes it first and resumes it from its last checkpoint (Optuna's
RetryFailedTrialCallback, with the trial directory kept). An interrupted sweep queues
its own trials the same way, so that a rerun resumes them.
"""

import os
import socket
import time

import optuna
from optuna.trial import TrialState

from finetune.process import processes

HEARTBEAT_SECS = 30.0
STALE_SECS = 120.0
WORKER = "worker"  # the user attribute: {"host", "pid", "beat"}
TRIAL_DIR = "trial"  # the user attribute: the trial directory's name, kept by retries


def claim(trial):
  """Marks `trial` (an optuna.Trial) as run by this process, now."""
  trial.set_user_attr(WORKER, {"host": socket.gethostname(), "pid": os.getpid(),
                               "beat": time.time()})


def stale(frozen, now=None):
  """Whether a RUNNING trial's worker is gone (see the module docstring)."""
  worker = frozen.user_attrs.get(WORKER)
  if worker and worker.get("host") == socket.gethostname():
    if worker.get("pid") == os.getpid():
      return False
    pid = worker.get("pid")
    # A live pid that started after the last heartbeat is another process: the pid was reused.
    if not isinstance(pid, int) or not processes.alive(pid) or processes.started_after(
        pid, worker.get("beat", 0)):
      return True
  last = worker["beat"] if worker else frozen.datetime_start.timestamp()
  return (now or time.time()) - last > STALE_SECS


def requeue(study, frozen):
  """Queues a copy of `frozen` (same parameters and trial directory) for the next worker."""
  study.add_trial(optuna.create_trial(state=TrialState.WAITING, params=frozen.params,
                                      distributions=frozen.distributions,
                                      user_attrs={TRIAL_DIR: frozen.user_attrs.get(TRIAL_DIR)}))


def fail_and_requeue(study, frozen):
  """Fails a running trial and queues its copy; False if another worker finished it first
  (the storage's state change is the one atomic step, as in Optuna's fail_stale_trials)."""
  try:
    # pylint: disable-next=protected-access  (Optuna's own fail_stale_trials does this)
    if not study._storage.set_trial_state_values(frozen._trial_id, state=TrialState.FAIL):
      return False
  except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
    return False
  requeue(study, frozen)
  return True


class Heartbeat:
  """Renews this worker's trials' heartbeats and fails other workers' stale trials, each at
  most every HEARTBEAT_SECS (a check reads the whole study)."""

  def __init__(self, study, interval=HEARTBEAT_SECS):
    self.study = study
    self.interval = interval
    self._beaten = 0.0
    self._checked = 0.0

  def beat(self, trials):
    if time.time() - self._beaten >= self.interval:
      for trial in trials:
        claim(trial)
      self._beaten = time.time()

  def fail_stale(self, force=False):
    """Returns the numbers of the trials failed and queued again."""
    if not force and time.time() - self._checked < self.interval:
      return []
    self._checked = time.time()
    now = time.time()
    running = self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return [t.number for t in running if stale(t, now) and fail_and_requeue(self.study, t)]
