"""tensorflow-hub's download lock, `<cache>/<hash>.lock`, made to say what it waits for and to
be taken over when its owner is gone.

hub writes `<hostname>.<pid>.<uid>` into the lock and downloads into `<hash>.<uid>.tmp`; a
process that finds the lock waits, and hub's own rule revokes it only after its temporary
folder has not grown for `lock_timeout_secs` (10 minutes), silently. Before hub's wait this
module looks at the owner: on this host and its pid gone (SIGKILL, a crash), or its pid now a
process that started after the lock was written (reused), the lock and its temporary folder
are removed at once, with one line saying so; alive, or on another host, it says whose
download it waits for, then waits (hub's inactivity rule still applies).
"""

import contextlib
import logging
import os
import socket
import time

import tensorflow as tf

from finetune.process import processes
from finetune.process.processes import alive
from finetune.process.signals import phase

try:
  import fcntl  # pylint: disable=g-import-not-at-top
except ImportError:  # not POSIX
  fcntl = None

log = logging.getLogger("finetune")

POLL_SECS = 0.5


def read_owner(lock_file):
  """(host, pid, uid) from hub's lock file, or None if it is gone or not hub's format."""
  try:
    with tf.io.gfile.GFile(lock_file) as f:
      host, pid, uid = f.read().strip().rsplit(".", 2)
    return host, int(pid), uid
  except (tf.errors.NotFoundError, ValueError):
    return None


def _remove(path):
  try:
    if tf.io.gfile.isdir(path):
      tf.io.gfile.rmtree(path)
    else:
      tf.io.gfile.remove(path)
  except tf.errors.NotFoundError:
    pass


def _tmp_size(tmp_dir):
  try:
    return sum(
        tf.io.gfile.stat(os.path.join(root, name)).length
        for root, _, files in tf.io.gfile.walk(tmp_dir) for name in files)
  except tf.errors.NotFoundError:
    return 0


@contextlib.contextmanager
def _takeovers_one_at_a_time(cache_dir):
  """Serializes take-overs among the processes of this host (an flock on the cache folder),
  so that of two waiters on one dead owner, the second does not remove the lock the first
  one's download has taken since. Elsewhere (gs://) the re-read in `_take_over` narrows it."""
  local = cache_dir[len("file://"):] if cache_dir.startswith("file://") else cache_dir
  if fcntl is None or "://" in local or not os.path.isdir(local):
    yield
    return
  fd = os.open(local, os.O_RDONLY)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX)
    yield
  finally:
    os.close(fd)


def _take_over(lock_file, tmp_dir, handle, owner, why):
  """Removes `owner`'s lock and temporary folder, if the lock is still `owner`'s; returns
  whether it did."""
  with _takeovers_one_at_a_time(os.path.dirname(lock_file)):
    if read_owner(lock_file) != owner:
      return False  # released, or already taken over by another waiter: hub decides again
    _remove(tmp_dir)
    _remove(lock_file)
  log.info("Took over the download lock of %s (%s): its owner, pid %d on %s, %s.", handle,
           lock_file, owner[1], owner[0], why)
  return True


def _gone(owner, lock_file):
  """Why the lock's owner on this host no longer runs, or None (alive, or another host)."""
  host, pid, _ = owner
  if host != socket.gethostname():
    return None
  if not alive(pid):
    return "is gone"
  try:
    written = tf.io.gfile.stat(lock_file).mtime_nsec / 1e9
  except tf.errors.NotFoundError:
    return None
  # A minute of slack: the cache may be on a shared file system whose clock differs a little.
  if processes.started_after(pid, written, slack_secs=60):
    return "is gone (its pid now belongs to a process started after the lock was written)"
  return None


def wait_for_owner(handle, module_dir, lock_timeout_secs):
  """Returns once no live process holds the download lock of `module_dir` (or the module is
  there); takes over a lock whose owner is gone or has not downloaded a byte for
  `lock_timeout_secs`."""
  lock_file = module_dir + ".lock"
  seen, progress_time, said = None, time.time(), None
  while tf.io.gfile.exists(lock_file) and not tf.io.gfile.exists(module_dir):
    owner = read_owner(lock_file)
    if owner is None:
      return  # gone meanwhile, or not hub's: hub's own protocol decides
    tmp_dir = f"{module_dir}.{owner[2]}.tmp"
    gone = _gone(owner, lock_file)
    if gone:
      if _take_over(lock_file, tmp_dir, handle, owner, gone):
        return
      continue  # another waiter took it: wait for that one
    state = (owner, _tmp_size(tmp_dir))
    if state != seen:
      seen, progress_time = state, time.time()
    elif time.time() - progress_time > lock_timeout_secs:
      if _take_over(lock_file, tmp_dir, handle, owner,
                    f"downloaded nothing for {lock_timeout_secs:g} s"):
        return
      continue
    if said != owner:
      said = owner
      log.info("Waiting for pid %d on %s, which is downloading %s into the cache (lock %s).",
               owner[1], owner[0], handle, lock_file)
    with phase(f"waiting for pid {owner[1]} on {owner[0]} to download {handle}"):
      time.sleep(POLL_SECS)
