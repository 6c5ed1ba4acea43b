"""SIGTERM and SIGINT (Ctrl-C) end every phase of a command the same way: one line, exit
code 128 + the signal's number (143, 130), no traceback.

Once training steps run, the first signal asks for a clean stop after the current step (the
Estimator saves a checkpoint there; `runtime/preemption.StopHook`); at any other moment (a
download, building the graph, an export, a parameter server waiting) it raises `Interrupted`
at once. During a clean stop, Ctrl-C (SIGINT) again raises `Interrupted` at once, while a
further SIGTERM is ignored: schedulers signal every process of a job (Slurm, systemd) and a
sweep forwards its own stop, so one stop often arrives twice; SIGKILL remains the hard stop.
TensorFlow's C++ calls hold Python signal handlers back until they return, so a signal lands
between two session runs or ops at most.

This module does not import TensorFlow: the command enters `StopSignal` before TensorFlow
loads, so a signal during the seconds of that import is handled too.
"""

import contextlib
import logging
import os
import signal
import threading

from finetune.errors import Interrupted
from finetune.errors import Preempted

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def active():
  """The StopSignal whose handler is installed for SIGTERM, or None. Its state (the phase
  stack, held signals) lives in that object: the process's signal table, which Python keeps
  anyway, says which one is in force; finetune keeps no list of its own beside it."""
  handler = signal.getsignal(signal.SIGTERM)
  owner = getattr(handler, "__self__", None)
  return owner if isinstance(owner, StopSignal) else None


@contextlib.contextmanager
def phase(description, advice=None):
  """Names what happens inside the block ("downloading URL") in an interruption's line, and
  what to do then (default: run the same command again). Outside a StopSignal it names
  nothing: no handler would report it."""
  stop = active()
  if stop is None:
    yield
    return
  stop.phases.append((description, advice))
  try:
    yield
  finally:
    stop.phases.pop()


@contextlib.contextmanager
def held():
  """Holds SIGTERM and SIGINT back during a few statements that must not be cut apart (a sweep
  starting a trial and registering it, so that its stop reaches that trial too): a signal
  that arrives meanwhile is sent again once the block ends, to the handler then in force."""
  stop = active()
  if stop is None:
    yield
    return
  stop.holding.append([])
  try:
    yield
  finally:
    pending = stop.holding.pop()
    if pending:  # also when the block failed: the stop still comes first
      os.kill(os.getpid(), pending[0])


def current_phase():
  """(description, advice) of the innermost phase, or (None, None)."""
  stop = active()
  return stop.current_phase() if stop else (None, None)


class StopSignal:
  """Within `with StopSignal() as stop:`, SIGTERM and SIGINT either request a clean stop
  (while training steps run: `stop.requested`; runtime/preemption.StopHook) or raise
  `Interrupted`.

  Handlers are installed on entry and the previous ones restored on exit, so a Python
  caller's own handlers survive and a second run in the same process starts with no stop
  pending. A StopSignal entered inside another (a command's, then experiment.run's) names the
  outer one's phases too. Python accepts signal handlers only in the main thread; elsewhere
  (a notebook's worker thread) the block changes nothing.
  """

  def __init__(self, signums=SIGNALS):
    self.signums = tuple(signums)
    self.requested = threading.Event()
    self.received = None  # the signal that requested the stop
    self.training = False  # set by the StopHook once the training session exists
    self.phases = []  # what the process is doing, innermost last
    self.holding = []  # the signals held back by each `held()` block, innermost last
    self._outer = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      self._outer = active()
      for signum in self.signums:
        self._previous[signum] = signal.signal(signum, self._handle)
    return self

  def __exit__(self, *exc):
    for signum, previous in self._previous.items():
      signal.signal(signum, previous)
    self._previous = {}
    self._outer = None

  def current_phase(self):
    if self.phases:
      return self.phases[-1]
    return self._outer.current_phase() if self._outer else (None, None)

  def _handle(self, signum, frame):  # pylint: disable=unused-argument
    if self.holding:
      self.holding[-1].append(signum)
      return
    if self.training and not self.requested.is_set():
      self.received = signum
      self.requested.set()
      return
    if self.requested.is_set() and signum == signal.SIGTERM:
      try:
        logging.getLogger("finetune").warning(
            "Already stopping after the current step (a checkpoint is saved there); SIGTERM "
            "again is ignored. Ctrl-C (SIGINT) stops at once, without that checkpoint.")
      except RuntimeError:  # the signal cut into a write to the same stream: skip the line
        pass
      return
    raise Interrupted(signum, *self.current_phase())

  def preempted(self, step, checkpoint):
    """The error that ends a run stopped cleanly at `step`."""
    signum = self.received or signal.SIGTERM
    return Preempted(f"Stopped by {signal.Signals(signum).name} at step {step}; the checkpoint "
                     f"is saved ({checkpoint}). Run the same command to resume.",
                     exit_code=128 + signum)


def run_in_thread(fn, name):
  """Runs `fn()` in a daemon thread and waits in short waits, so that a signal ends the
  command during a long C++ call (a server's join, a SavedModel save): a wait on the main
  thread would hold the handler back until the call returns. `fn`'s exception is re-raised."""
  failure = []

  def target():
    try:
      fn()
    except Exception as e:  # pylint: disable=broad-except  (re-raised in the caller's thread)
      failure.append(e)

  thread = threading.Thread(target=target, name=name, daemon=True)
  thread.start()
  while thread.is_alive():
    thread.join(timeout=0.5)
  if failure:
    raise failure[0]
