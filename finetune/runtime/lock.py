"""The model_dir lock: a second training in a model_dir that one already uses is refused.

A lock file holds the owner's pid and host; a lock left by a killed process (same host, pid
gone) is taken over. On remote file systems (gs://) the check is best effort: there is no
atomic create there.
"""

import json
import os
import socket
import time

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.runtime.processes import alive

LOCK_FILE = ".finetune.lock"


def _is_local(path):
  return "://" not in path or path.startswith("file://")


class ModelDirLock:
  """Refuses a second training in the same model_dir while the first runs.

  A lock left by a killed process (same host, pid gone) is taken over. On remote file
  systems (gs://) the check is best effort: there is no atomic create there.
  """

  def __init__(self, model_dir, command=None):
    self.path = os.path.join(model_dir, LOCK_FILE)
    self.owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(command or [])
    }
    self.held = False

  def __enter__(self):
    for _ in range(2):
      if self._try_create():
        self.held = True
        return self
      holder = self._read()
      if holder and holder.get("host") == self.owner["host"] and holder.get("pid") and (not alive(
          holder["pid"])):
        tf.io.gfile.remove(self.path)  # stale: its process is gone
        continue
      if not holder and self._age() > 60:  # killed between creating and writing the lock
        tf.io.gfile.remove(self.path)
        continue
      raise FinetuneError(
          f"model_dir '{os.path.dirname(self.path)}' is in use by another training (pid "
          f"{holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}). "
          "Wait for it to finish or use another --model_dir. If that process no longer runs, "
          f"delete {self.path}.")
    raise FinetuneError(f"Could not take the lock {self.path}.")

  def _try_create(self):
    payload = json.dumps(self.owner)
    if _is_local(self.path):
      try:
        fd = os.open(self.path.replace("file://", ""), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
      except FileExistsError:
        return False
      with os.fdopen(fd, "w") as f:
        f.write(payload)
      return True
    if tf.io.gfile.exists(self.path):
      return False
    with tf.io.gfile.GFile(self.path, "w") as f:
      f.write(payload)
    return True

  def _age(self):
    try:
      return time.time() - tf.io.gfile.stat(self.path).mtime_nsec / 1e9
    except tf.errors.OpError:
      return 0.0

  def _read(self):
    try:
      with tf.io.gfile.GFile(self.path) as f:
        return json.load(f)
    except (tf.errors.OpError, ValueError):
      return {}

  def __exit__(self, *exc):
    holder = self._read() if self.held else {}
    # Only our own lock: another run may hold the file by now (after a stale takeover).
    if (holder.get("pid"), holder.get("host")) == (self.owner["pid"], self.owner["host"]):
      tf.io.gfile.remove(self.path)
    self.held = False


