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
  """Training stopped on request (SIGTERM); the checkpoint at the current step is saved."""
