"""Whether a process still runs: the question behind every lock a dead owner may leave
(the model_dir lock, hub's download lock, a sweep's trials). No TensorFlow here."""

import os


def alive(pid):
  """Whether process `pid` runs on this host; an exited one that its parent has not reaped
  yet (a zombie) does not."""
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True  # someone else's process
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0] != "Z"
  except (OSError, IndexError):
    return True  # no /proc (macOS): kill(0) said it exists
