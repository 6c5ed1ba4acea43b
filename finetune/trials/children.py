"""Trials die with their sweep: a SIGKILLed sweep (an OOM killer, `kill -9`, a scheduler)
runs no cleanup, so each trial asks the kernel for SIGTERM when its parent dies (Linux's
PR_SET_PDEATHSIG). finetune.train stops on SIGTERM after the current step with a checkpoint,
so a rerun of the sweep resumes the trial. Elsewhere trials only share the sweep's process
group (Ctrl-C in a terminal reaches them all).
"""

import ctypes
import ctypes.util
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def _libc_prctl():
  if not sys.platform.startswith("linux"):
    return None
  try:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
  except (OSError, AttributeError):
    return None


def die_with_parent_fn():
  """A `preexec_fn` for subprocess.Popen that makes the child get SIGTERM when this process
  dies, or None where the kernel has no such request. Everything is looked up here, in the
  parent: the child, forked from a process with threads, only makes the system call."""
  prctl = _libc_prctl()
  if prctl is None:
    return None
  parent, sigterm = os.getpid(), int(signal.SIGTERM)

  def preexec():
    prctl(_PR_SET_PDEATHSIG, sigterm)
    if os.getppid() != parent:  # the parent died before the request: act as if after
      os.kill(os.getpid(), sigterm)

  return preexec
