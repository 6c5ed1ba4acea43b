"""The model_dir lock: a second training in a model_dir that one already uses is refused.

On a local (or NFS) file system the lock is the kernel's: an `flock` on `.finetune.lock`,
which the kernel drops when its process dies however it dies. No pid is trusted, so a lock
left by a killed run never blocks a rerun, even when its pid now belongs to another process
(a restarted container often gets the same pid). The file also names its owner (pid, host,
start, command) for the message that refuses a second run and for sweeps (`holder`).
On remote file systems (gs://) there is neither flock nor atomic create: there the file alone
is the lock, taken over when it names a dead pid on this host (best effort).
"""

import errno
import json
import os
import socket
import time

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.runtime.processes import alive

try:
  import fcntl  # pylint: disable=g-import-not-at-top
except ImportError:  # not POSIX
  fcntl = None

LOCK_FILE = ".finetune.lock"
_BUSY = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)


def _local(path):
  """The OS path of a local (or file://) path, or None for a remote one."""
  if path.startswith("file://"):
    return path[len("file://"):]
  return None if "://" in path else path


def _read(path):
  try:
    with tf.io.gfile.GFile(path) as f:
      return json.load(f)
  except (tf.errors.OpError, ValueError):
    return {}


def holder(model_dir):
  """The owner ({"pid", "host", "started", "command"}) of the run that holds `model_dir`'s
  lock now, or None. Remote model_dirs: the owner if the file names a live pid on this host."""
  path = os.path.join(model_dir, LOCK_FILE)
  local = _local(path)
  if local is None or fcntl is None:
    owner = _read(path)
    pid = owner.get("pid")
    same_host = owner.get("host") == socket.gethostname()
    return owner if same_host and isinstance(pid, int) and alive(pid) else None
  try:
    fd = os.open(local, os.O_RDONLY)
  except OSError:
    return None
  try:
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a probe of a moment: see _try_flock
  except OSError as e:
    if e.errno not in _BUSY:
      raise
    return _read(path) or {"pid": None}
  finally:
    os.close(fd)  # also drops the probe's shared lock
  return None


class ModelDirLock:
  """Refuses a second training in the same model_dir while the first runs (module doc)."""

  # A probe (`holder`) holds a shared lock for microseconds; a training holds it for hours.
  ATTEMPTS, PAUSE_SECS = 20, 0.05

  def __init__(self, model_dir, command=None):
    self.path = os.path.join(model_dir, LOCK_FILE)
    self.owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(command or [])
    }
    self.held = False
    self._fd = None

  def __enter__(self):
    local = _local(self.path)
    acquired = (self._try_flock(local) if local is not None and fcntl is not None else
                self._try_file())
    if not acquired:
      holder_ = _read(self.path)
      raise FinetuneError(
          f"model_dir '{os.path.dirname(self.path)}' is in use by another training (pid "
          f"{holder_.get('pid')} on {holder_.get('host')}, started {holder_.get('started')}). "
          "Wait for it to finish or use another --model_dir.")
    self.held = True
    return self

  def _try_flock(self, local):
    payload = json.dumps(self.owner).encode()
    for _ in range(self.ATTEMPTS):
      fd = os.open(local, os.O_RDWR | os.O_CREAT, 0o644)
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except OSError as e:
        os.close(fd)
        if e.errno not in _BUSY:
          raise
        time.sleep(self.PAUSE_SECS)
        continue
      try:  # the file may have been removed by the run we waited for: lock the path's file
        current = os.stat(local)
        same = (current.st_dev, current.st_ino) == (os.fstat(fd).st_dev, os.fstat(fd).st_ino)
      except FileNotFoundError:
        same = False
      if not same:
        os.close(fd)
        continue
      os.ftruncate(fd, 0)
      os.write(fd, payload)
      self._fd = fd
      return True
    return False

  def _try_file(self):
    """gs:// and the like: the file is the lock; a dead owner's on this host is taken over."""
    for _ in range(2):
      if not tf.io.gfile.exists(self.path):
        with tf.io.gfile.GFile(self.path, "w") as f:
          f.write(json.dumps(self.owner))
        return True
      owner = _read(self.path)
      if owner.get("host") == self.owner["host"] and owner.get("pid") and not alive(owner["pid"]):
        tf.io.gfile.remove(self.path)  # stale: its process is gone
        continue
      return False
    return False

  def __exit__(self, *exc):
    if self._fd is not None:
      try:
        os.unlink(_local(self.path))  # while still locked: a waiter then sees another file
      except FileNotFoundError:
        pass
      os.close(self._fd)
      self._fd = None
    elif self.held and _read(self.path).get("pid") == self.owner["pid"]:
      tf.io.gfile.remove(self.path)
    self.held = False
