"""The model_dir lock: a second training in a model_dir that one already uses is refused.

On a local (or NFS) file system the lock is the kernel's: an `flock` on `.finetune.lock`,
which the kernel drops when its process dies however it dies. No pid is trusted, so a lock
left by a killed run never blocks a rerun, even when its pid now belongs to another process
(a restarted container often gets the same pid). The file also names its owner (pid, host,
start, command) for the message that refuses a second run and for sweeps (`holder`).
On remote file systems (gs://), and file systems without flock, the file alone is the lock
(best effort: gs:// has no atomic create), taken over when it names a dead pid on this host or
was left empty for a minute; a refusal there says to delete it if its owner is gone.
"""

import errno
import json
import logging
import os
import socket
import time

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.process.processes import alive

try:
  import fcntl  # pylint: disable=g-import-not-at-top
except ImportError:  # not POSIX
  fcntl = None

log = logging.getLogger("finetune")
LOCK_FILE = ".finetune.lock"
_BUSY = (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)
# A file system without flock (Lustre with noflock, NFSv3 without lockd): the file is the lock.
_UNSUPPORTED = (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL)
STALE_EMPTY_SECS = 60  # a lock file still empty after this: its writer died writing it


def local_path(path):
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


def _pid_holder(path):
  """The file-only rule: the owner the file names, if it is a live pid on this host."""
  owner = _read(path)
  pid = owner.get("pid")
  same_host = owner.get("host") == socket.gethostname()
  return owner if same_host and isinstance(pid, int) and alive(pid) else None


def holder(model_dir):
  """The owner ({"pid", "host", "started", "command"}) of the run that holds `model_dir`'s
  lock now, or None. Where there is no flock (gs://, a file system without it): the owner
  if the file names a live pid on this host."""
  path = os.path.join(model_dir, LOCK_FILE)
  local = local_path(path)
  if local is None or fcntl is None:
    return _pid_holder(path)
  try:
    fd = os.open(local, os.O_RDONLY)
  except OSError:
    return None
  try:
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a probe of a moment: see _try_flock
  except OSError as e:
    if e.errno in _UNSUPPORTED:
      return _pid_holder(path)
    if e.errno not in _BUSY:
      raise
    return _read(path) or {"pid": None, "started": "just now (its record is being written)"}
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
    self._fd = None  # the locked file (flock)
    self._file_held = False  # the file lock (no flock)

  def __enter__(self):
    try:
      self._acquire()
    except BaseException:  # a refusal, or a signal right after the lock was taken
      self.__exit__()
      raise
    self.held = True
    return self

  def _acquire(self):
    if tf.io.gfile.isdir(self.path):
      raise FinetuneError(f"{self.path} is a directory where finetune keeps the model_dir's lock "
                          "file; remove it (nothing of finetune's is in it).")
    local = local_path(self.path)
    acquired = None
    if local is not None and fcntl is not None:
      acquired = self._try_flock(local)  # None: no flock on this file system
    file_only = acquired is None
    if file_only:
      acquired = self._try_file()
      self._file_held = acquired
    if not acquired:
      owner = _read(self.path)
      # A kernel lock is never stale; a file naming a process elsewhere may be.
      advice = (f" If that process no longer runs (e.g. it ran on another host), delete "
                f"{self.path}." if file_only else "")
      raise FinetuneError(
          f"model_dir '{os.path.dirname(self.path)}' is in use by another training (pid "
          f"{owner.get('pid', '?')} on {owner.get('host', '?')}, started "
          f"{owner.get('started', 'just now')}). Wait for it to finish or use another "
          f"--model_dir.{advice}")

  def _try_flock(self, local):
    """True (locked), False (another run holds it), None (flock unsupported here)."""
    for _ in range(self.ATTEMPTS):
      fd, created = _open_or_create(local)
      try:
        outcome = self._lock(fd, created, local)  # sets self._fd when locked
      finally:
        if self._fd != fd:  # whatever happened, even a signal: no fd keeps a lock
          os.close(fd)
      if outcome in (True, None):
        return outcome
      if outcome == "busy":
        time.sleep(self.PAUSE_SECS)
    return False

  def _lock(self, fd, created, local):
    """Locks `fd`: True, "busy", "replaced" (the path is another file by now) or None."""
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      if e.errno in _UNSUPPORTED:
        if created:  # the file lock below creates its own
          os.unlink(local)
        log.info("No flock on the file system of %s (%s): the lock file alone is the lock.",
                 local, os.strerror(e.errno))
        return None
      if e.errno not in _BUSY:
        raise
      return "busy"
    if not _same_file(fd, local):  # removed by the run we waited for: lock the path's
      return "replaced"
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(self.owner).encode())
    self._fd = fd
    return True

  def _try_file(self):
    """gs:// and file systems without flock: the file is the lock; a dead owner's on this
    host, or one left empty by a writer that died, is taken over."""
    for _ in range(2):
      if self._create():
        return True
      owner = _read(self.path)
      dead = (owner.get("host") == self.owner["host"] and owner.get("pid") and
              not alive(owner["pid"]))
      if dead or (not owner and self._age() > STALE_EMPTY_SECS):
        tf.io.gfile.remove(self.path)  # stale: its process is gone
        continue
      return False
    return False

  def _create(self):
    """Creates the lock file with the owner's record; False if it exists. Atomic on a local
    file system (O_EXCL); gs:// has no atomic create."""
    local = local_path(self.path)
    if local is not None:
      try:
        fd = os.open(local, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
      except FileExistsError:
        return False
      with os.fdopen(fd, "w") as f:
        f.write(json.dumps(self.owner))
      return True
    if tf.io.gfile.exists(self.path):
      return False
    with tf.io.gfile.GFile(self.path, "w") as f:
      f.write(json.dumps(self.owner))
    return True

  def _age(self):
    try:
      return time.time() - tf.io.gfile.stat(self.path).mtime_nsec / 1e9
    except tf.errors.OpError:
      return 0.0

  def __exit__(self, *exc):  # pylint: disable=unused-argument
    if self._fd is not None:
      fd, self._fd = self._fd, None
      try:
        if _same_file(fd, local_path(self.path)):
          os.unlink(local_path(self.path))  # while still locked: a waiter then sees another file
      except OSError as e:
        log.warning("Could not remove the lock file %s: %s", self.path, e)
      finally:
        os.close(fd)
    elif self._file_held:
      self._file_held = False
      owner = _read(self.path)
      if (owner.get("pid"), owner.get("host")) == (self.owner["pid"], self.owner["host"]):
        try:
          tf.io.gfile.remove(self.path)
        except tf.errors.OpError as e:
          log.warning("Could not remove the lock file %s: %s", self.path, e)
    self.held = False


def _open_or_create(local):
  """(fd, whether this call created the file) of the lock file, opened for writing."""
  while True:
    try:
      return os.open(local, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), True
    except FileExistsError:
      pass
    try:
      return os.open(local, os.O_RDWR), False
    except FileNotFoundError:
      continue  # removed in between by the run that held it: create it


def _same_file(fd, path):
  """Whether `path` is still the file open as `fd`."""
  try:
    current = os.stat(path)
  except FileNotFoundError:
    return False
  opened = os.fstat(fd)
  return (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino)
