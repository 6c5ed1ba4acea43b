"""The one exception type for mistakes a user can fix.

Every message names what was asked, what exists instead, and how to fix it, so that the
command can print it as one readable line instead of a stack trace (see `train.main`).
"""


import re


def without_gin_context(message):
  """The message without the "In call to configurable ..." lines gin appends to errors raised
  inside configurables."""
  return re.sub(r"\n\s*In call to configurable .*", "", str(message), flags=re.S)


class FinetuneError(Exception):
  """A configuration, data or module mistake that the user can fix."""


class Preempted(FinetuneError):
  """Training stopped on request (SIGTERM or SIGINT); the checkpoint at the current step is
  saved. `exit_code` is the command's: 128 + the signal's number."""

  def __init__(self, message, exit_code=143):
    super().__init__(message)
    self.exit_code = exit_code


class Interrupted(BaseException):
  """SIGTERM or SIGINT outside training steps (a download, building the graph, an export):
  the command ends at once. A BaseException, like KeyboardInterrupt, so that no `except
  Exception` on the way (hub's, gin's, ours) turns it into an error."""

  def __init__(self, signum, phase=None, advice=None):
    import signal  # pylint: disable=g-import-not-at-top
    self.signum = signum
    self.exit_code = 128 + signum
    name = signal.Signals(signum).name
    where = f" while {phase}" if phase else ""
    advice = ("Run the same command to start again (a training resumes from its last "
              "checkpoint).") if advice is None else advice
    super().__init__(f"Stopped by {name}{where}. {advice}".strip())
