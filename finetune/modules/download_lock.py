"""tensorflow-hub's download lock, `<cache>/<hash>.lock`, made to say what it waits for and to
be taken over when its owner is gone.

hub writes `<hostname>.<pid>.<uid>` into the lock and downloads into `<hash>.<uid>.tmp`; a
process that finds the lock waits, and hub's own rule revokes it only after its temporary
folder has not grown for `lock_timeout_secs` (10 minutes), silently. Before hub's wait this
module looks at the owner: on this host and its pid gone (SIGKILL, a crash), the lock and its
temporary folder are removed at once, with one line saying so; alive, or on another host, it
says whose download it waits for, then waits (hub's inactivity rule still applies).
"""

import logging
import os
import socket
import time

import tensorflow as tf

from finetune.runtime.processes import alive
from finetune.runtime.signals import phase

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


def _take_over(lock_file, tmp_dir, handle, owner, why):
  _remove(tmp_dir)
  _remove(lock_file)
  log.info("Took over the download lock of %s (%s): its owner, pid %d on %s, %s.", handle,
           lock_file, owner[1], owner[0], why)


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
    if owner[0] == socket.gethostname() and not alive(owner[1]):
      _take_over(lock_file, tmp_dir, handle, owner, "is gone")
      return
    state = (owner, _tmp_size(tmp_dir))
    if state != seen:
      seen, progress_time = state, time.time()
    elif time.time() - progress_time > lock_timeout_secs:
      _take_over(lock_file, tmp_dir, handle, owner,
                 f"downloaded nothing for {lock_timeout_secs:g} s")
      return
    if said != owner:
      said = owner
      log.info("Waiting for pid %d on %s, which is downloading %s into the cache (lock %s).",
               owner[1], owner[0], handle, lock_file)
    with phase(f"waiting for pid {owner[1]} on {owner[0]} to download {handle}"):
      time.sleep(POLL_SECS)
