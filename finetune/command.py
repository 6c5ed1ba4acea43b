"""The skeleton every command shares: signals, the one-line error, the exit code.

A command's `main` parses its flags and hands `run` the work as a function returning the exit
code. `run` installs the SIGTERM/SIGINT handling (process/signals.py) and turns what a user
can fix into one line on stderr: a `FinetuneError` -> `finetune: error: ...`, exit 2; any
other exception -> one line naming it as unexpected, exit 1 (with --verbose both are raised,
for the traceback); a stop during training -> its line, 143/130; a stop anywhere else -> its
line, 143/130. No TensorFlow is imported here, so a command can
enter `run` before TensorFlow loads.
"""

import contextlib
import sys

from finetune import formatting


def run(work, verbose=False, phase=None, before=None):
  """Runs `work()` and returns the command's exit code.

  Args:
    work: the command's body; returns its exit code.
    verbose: re-raise a FinetuneError (its traceback) instead of printing one line.
    phase: (description, advice) naming what a signal interrupts, e.g. a whole sweep.
    before: called first inside the signal handling (a sweep trial's death-with-parent).
  """
  from finetune.errors import FinetuneError  # pylint: disable=g-import-not-at-top
  from finetune.errors import Interrupted  # pylint: disable=g-import-not-at-top
  from finetune.errors import Preempted  # pylint: disable=g-import-not-at-top
  from finetune.errors import UnexpectedError  # pylint: disable=g-import-not-at-top
  from finetune.process import signals  # pylint: disable=g-import-not-at-top
  try:
    with signals.StopSignal(), (signals.phase(*phase) if phase else contextlib.nullcontext()):
      if before:
        before()
      try:
        try:
          return work()
        except FinetuneError:
          raise
        except Exception as e:  # pylint: disable=broad-except  (the funnel: one line, exit 1)
          raise UnexpectedError(e) from e
      except Preempted as e:
        print(f"finetune: {e}", file=sys.stderr)
        return e.exit_code
      except FinetuneError as e:
        if verbose:
          raise
        print(f"finetune: error: {formatting.one_line(e)}", file=sys.stderr)
        return getattr(e, "exit_code", 2)
  except Interrupted as e:
    print(f"finetune: {e}", file=sys.stderr)
    return e.exit_code
