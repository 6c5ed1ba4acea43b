"""A search sweep: trials that an Optuna study asks for, pruned after any evaluation.

Each worker (this process, with `parallel` trials at a time) asks the study for a trial, runs
it as a `finetune.train` process (runner.Sweep: its own session, its trial directory, its
death with the sweep), and reads each evaluation from metrics.json, which the trial waits on
(outputs/eval_gate.py): the metric is reported to the study, and a trial the pruner stops gets
SIGTERM, so it stops after one more step with a checkpoint and is recorded as pruned. Workers
take trials until the study holds its total (failed trials do not count: a rerun replaces
them), so a rerun of a finished study runs nothing, and N processes running the same command
share one study. liveness.py keeps a killed worker's trial from holding the study.
"""

import dataclasses
import logging
import os
import re
import time
from typing import Optional

import optuna
from optuna.trial import TrialState

from finetune import files
from finetune.errors import FinetuneError
from finetune.outputs import eval_gate
from finetune.process import signals
from finetune.trials import liveness
from finetune.trials import state
from finetune.trials.grid import short_value
from finetune.trials.state import DONE, FAILED, PRUNED

log = logging.getLogger("finetune")
SURPLUS = "surplus"  # user attribute of a trial asked for when the study was already full
DUPLICATE = "duplicate"  # user attribute of a grid point another worker took at the same time


@dataclasses.dataclass
class _Running:
  trial: optuna.Trial
  name: str
  values: dict
  child: object
  reported: int = -1  # the last evaluation step read
  pruned_at: Optional[int] = None  # the evaluation step at which the pruner stopped it


def trial_name(number, values):
  """NNN-<module>-<values>: the trial's number, then what a reader compares."""
  shown = {p: (f"{v:.3g}" if isinstance(v, float) else v) for p, v in values.items()}
  label = "-".join(short_value(p, v) for p, v in shown.items())
  return f"{number:03d}-" + re.sub(r"[^\w.=+-]+", "_", label)[:80]


class Search:
  """Runs the study's trials on `sweep` (a runner.Sweep) until the study holds `total`."""

  def __init__(self, sweep, study, settings):
    self.sweep = sweep
    self.study = study
    self.settings = settings
    self.distributions = dict(settings.space) or {
        p: optuna.distributions.CategoricalDistribution(list(v)) for p, v in settings.grid
    }
    self.heartbeat = liveness.Heartbeat(study)
    self.failed_here = 0
    self.states = {}

  def _wanted(self):
    """A trial is wanted while one waits (a retry) or the study holds fewer than its total."""
    trials = self.study.get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in trials):
      return True
    held = sum(t.state != TrialState.FAIL for t in trials)
    return held + self.failed_here < self.settings.trials

  def _surplus(self, trial):
    """Two workers asking at once can overshoot the total: the later trial numbers yield."""
    earlier = [t for t in self.study.get_trials(deepcopy=False) if t.number < trial.number]
    return sum(t.state != TrialState.FAIL for t in earlier) >= self.settings.trials

  def _repeats_a_point(self, trial):
    """Two workers asking at once can get the same grid point (Optuna's GridSampler reads the
    study, then picks): the later trial number yields it and asks again."""
    return any(t.number < trial.number and t.state != TrialState.FAIL and t.params == trial.params
               for t in self.study.get_trials(deepcopy=False))

  def _frozen(self, trial):
    return next(t for t in self.study.get_trials(deepcopy=False) if t.number == trial.number)

  def _take(self):
    """The next trial (a queued retry first), claimed by this worker; None if none is wanted."""
    while self._wanted():
      trial = self.study.ask(self.distributions)
      if trial.user_attrs.get(liveness.TRIAL_DIR) is None and self._surplus(trial):
        trial.set_user_attr(SURPLUS, True)
        self.study.tell(trial, state=TrialState.FAIL)
        return None
      if self.settings.search == "grid" and self._repeats_a_point(trial):
        trial.set_user_attr(DUPLICATE, True)
        self.study.tell(trial, state=TrialState.FAIL)
        continue
      liveness.claim(trial)
      name = trial.user_attrs.get(liveness.TRIAL_DIR) or trial_name(trial.number, trial.params)
      trial.set_user_attr(liveness.TRIAL_DIR, name)
      return trial, name
    return None

  def run(self):
    """Runs trials until none is wanted; returns {trial name: state} of those run here."""
    env = dict(self.sweep.env(), **{eval_gate.GATE_ENV: "1"})
    running = {}
    try:
      while True:
        self.heartbeat.fail_stale(force=not running)
        while len(running) < self.sweep.parallel:
          with signals.held():  # a stop now must find the new trial registered, to stop it
            taken = self._take()
            if taken is None:
              break
            trial, name = taken
            values = dict(trial.params)
            child = self.sweep.adopt(name, values) or self.sweep.start(name, values, env)
            running[name] = _Running(trial, name, values, child)
        if not running:
          return self.states
        time.sleep(0.2)
        self.heartbeat.beat([r.trial for r in running.values()])
        for name, run in list(running.items()):
          self._watch(run)
          code = run.child.poll()
          if code is not None:
            del running[name]
            if not self._finish(run, code):  # another process's run stopped early: run it
              run.child = self.sweep.start(name, run.values, env)
              running[name] = run
    finally:  # interrupted: stop the children, and queue their trials for a rerun to resume
      self._stop(running.values())

  def _watch(self, run):
    """Reports a new evaluation, prunes if the pruner says so, then lets the trial go on."""
    if run.child.adopted or run.pruned_at is not None:  # another process's: no gate, no stop
      return
    trial_dir = self.sweep.trial_dir(run.name)
    metrics = files.read_json(os.path.join(trial_dir, "metrics.json")) or {}
    step = metrics.get("global_step")
    if step is None or step <= run.reported:
      return
    metric = self.settings.metric
    if metric not in metrics:
      raise FinetuneError(f"Metric '{metric}' is not in the evaluation of trial {run.name}; "
                          f"it has: {', '.join(sorted(metrics))}. Pass --metric=one of them.")
    run.trial.report(float(metrics[metric]), step)
    run.reported = step
    last = state.train_steps(trial_dir)
    if (last is None or step < last) and run.trial.should_prune():
      run.pruned_at = step
      run.child.terminate()  # before the acknowledgement: the trial stops after one step
      log.info("prune %s at step %d (%s = %.4f)", run.name, step, metric, metrics[metric])
    eval_gate.acknowledge(trial_dir, step)

  def _finish(self, run, code):
    """Records the trial's outcome in its directory and the study; False to run it again."""
    if run.pruned_at is not None:
      return self._pruned(run, code)
    outcome = self.sweep.finish(run.name, run.child, code)
    if outcome is None:
      return False
    metrics = files.read_json(os.path.join(self.sweep.trial_dir(run.name), "metrics.json"))
    value = (metrics or {}).get(self.settings.metric)
    if outcome == DONE and value is not None:
      self.study.tell(run.trial, float(value))
    else:
      self.study.tell(run.trial, state=TrialState.FAIL)
      if outcome == DONE or code not in (130, 143):
        self.failed_here += 1
      else:  # stopped by a signal from elsewhere: a rerun resumes it
        liveness.requeue(self.study, self._frozen(run.trial))
    self._done(run.name, outcome)
    return True

  def _pruned(self, run, code):
    trial_dir = self.sweep.trial_dir(run.name)
    status = files.read_json(os.path.join(trial_dir, "status.json")) or {}
    elapsed = time.time() - getattr(run.child, "started", time.time())
    files.write_json_atomically(os.path.join(trial_dir, "status.json"), {
        "state": PRUNED, "returncode": code, "started": status.get("started"),
        "step": state.latest_checkpoint_step(trial_dir), "evaluated_step": run.pruned_at,
        "wall_time_secs": round(elapsed + status.get("wall_time_secs", 0.0), 2)})
    self.study.tell(run.trial, state=TrialState.PRUNED)
    self._done(run.name, PRUNED)
    return True

  def _done(self, name, outcome):
    self.states[name] = outcome
    counts = {s: sum(v == s for v in self.states.values()) for s in (DONE, PRUNED, FAILED)}
    held = sum(t.state != TrialState.FAIL for t in self.study.get_trials(deepcopy=False))
    log.info("%s %s; this worker: %d done, %d pruned, %d failed; the study holds %d of %d "
             "trials", outcome, name, counts[DONE], counts[PRUNED], counts[FAILED], held,
             self.settings.trials)

  def _stop(self, runs):
    runs = list(runs)
    for run in runs:
      run.child.terminate()
    for run in runs:
      run.child.wait()
      if run.pruned_at is not None:
        self._pruned(run, 143)
        continue
      frozen = self._frozen(run.trial)
      if frozen.state == TrialState.RUNNING:
        liveness.fail_and_requeue(self.study, frozen)
