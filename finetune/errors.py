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


class UnexpectedError(FinetuneError):
  """An error finetune does not recognise (most likely a bug of finetune's): still one line,
  exit code 1, with the original exception as its cause (`--verbose` shows the traceback)."""

  exit_code = 1

  def __init__(self, error):
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    super().__init__(
        f"unexpected {type(error).__name__}{': ' + first if first else ''} (not a known "
        "mistake in the config, data or module: probably a bug of finetune's; run again with "
        "--verbose for the traceback to report)")


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
