"""Trials die with their sweep, and hear of a stop once.

A SIGKILLed sweep (an OOM killer, `kill -9`, a scheduler) runs no cleanup, so each trial asks
the kernel for SIGTERM when its parent dies (Linux's PR_SET_PDEATHSIG). The trial makes that
request itself, first thing in `finetune.train`, from the parent's pid in its environment: a
`preexec_fn` would run Python between fork and exec in a process with threads, which is not
safe. finetune.train stops on SIGTERM after the current step with a checkpoint, so a rerun of
the sweep resumes the trial.

Trials run in sessions of their own, so Ctrl-C in a terminal (SIGINT to the foreground process
group) or a scheduler's signal to the sweep's group reaches the sweep alone, which stops each
trial with one SIGTERM: a trial that got SIGINT from the group would take the sweep's SIGTERM
after it too. (A trial ignores a further SIGTERM during its clean stop anyway: signals.py.)
"""

import ctypes
import ctypes.util
import os
import signal
import sys

PARENT_ENV = "FINETUNE_DIE_WITH_PARENT"
_PR_SET_PDEATHSIG = 1


def popen_kwargs(env):
  """subprocess.Popen arguments that start a trial the way this module describes."""
  return {"env": dict(env, **{PARENT_ENV: str(os.getpid())}), "start_new_session": True}


def die_with_parent():
  """Called first in a trial: asks for SIGTERM when the sweep named in the environment dies.
  Where the kernel has no such request (not Linux), the trial runs on its own."""
  parent = os.environ.pop(PARENT_ENV, None)
  if not parent or not parent.isdigit():
    return
  prctl = _libc_prctl()
  if prctl is None:
    return
  prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))
  if os.getppid() != int(parent):  # the sweep died before the request: act as if after
    os.kill(os.getpid(), signal.SIGTERM)


def _libc_prctl():
  if not sys.platform.startswith("linux"):
    return None
  try:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
  except (OSError, AttributeError):
    return None
