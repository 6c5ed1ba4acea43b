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


def started_after(pid, timestamp, slack_secs=2.0):
  """Whether process `pid` started after `timestamp` (seconds since the epoch): then it cannot
  be the process that wrote a file at that time, and the pid was reused. False where /proc
  cannot tell (not Linux), and within `slack_secs` (the boot time is in whole seconds)."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/stat") as f:
      boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
  except (OSError, IndexError, ValueError, StopIteration):
    return False
  return boot + start_ticks / os.sysconf("SC_CLK_TCK") > timestamp + slack_secs
