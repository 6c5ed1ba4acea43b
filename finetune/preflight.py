"""Checks on the model_dir before a run writes to it, and the lock that keeps runs apart.

Before training: the model_dir can be written; no other training holds it (a lock file with
the owner's pid and host, taken over only when that process is gone); any checkpoint already
there belongs to this model (same variables, same shapes), so resuming cannot corrupt it;
leftover temporary export directories from a killed run are removed (an export is whole or
absent).
"""

import json
import os
import socket
import time

import tensorflow as tf

from finetune import faults
from finetune.errors import FinetuneError

LOCK_FILE = ".finetune.lock"


def check_writable(model_dir):
  probe = os.path.join(model_dir, f".write_probe.{socket.gethostname()}.{os.getpid()}")
  try:
    tf.io.gfile.makedirs(model_dir)
    with tf.io.gfile.GFile(probe, "w") as f:
      f.write("ok")
    tf.io.gfile.remove(probe)
  except (tf.errors.OpError, OSError) as e:
    raise FinetuneError(f"model_dir '{model_dir}' cannot be written ({type(e).__name__}: "
                        f"{str(e).splitlines()[0]}). Choose a writable --model_dir.") from e


def _is_local(path):
  return "://" not in path or path.startswith("file://")


def _alive(pid):
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


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
      if holder and holder.get("host") == self.owner["host"] and holder.get("pid") and (not _alive(
          holder["pid"])):
        tf.io.gfile.remove(self.path)  # stale: its process is gone
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

  def _read(self):
    try:
      with tf.io.gfile.GFile(self.path) as f:
        return json.load(f)
    except (tf.errors.OpError, ValueError):
      return {}

  def __exit__(self, *exc):
    if self.held and tf.io.gfile.exists(self.path):
      tf.io.gfile.remove(self.path)
    self.held = False


def remove_partial_exports(model_dir):
  """Deletes export/*/temp-* directories, the half-written exports of a killed run."""
  root = os.path.join(model_dir, "export")
  if not tf.io.gfile.isdir(root):
    return []
  removed = []
  for kind in tf.io.gfile.listdir(root):
    kind_dir = os.path.join(root, kind.rstrip("/"))
    if not tf.io.gfile.isdir(kind_dir):
      continue
    for entry in tf.io.gfile.listdir(kind_dir):
      if entry.startswith("temp-"):
        path = os.path.join(kind_dir, entry.rstrip("/"))
        tf.io.gfile.rmtree(path)
        removed.append(path)
  return removed


def check_checkpoint_matches(model_dir, model_fn, feature_specs, run_config):
  """Refuses a model_dir whose checkpoint lacks this model's variables or has other shapes.

  Builds the PREDICT graph (module and head, no labels needed) in a scratch graph and
  compares every variable with the latest checkpoint.
  """
  checkpoint = tf.train.latest_checkpoint(model_dir)
  if checkpoint is None:
    return
  saved = dict(tf.train.list_variables(checkpoint))
  with tf.Graph().as_default():
    features = {
        name: tf.compat.v1.placeholder(spec.dtype, [None] + spec.shape.as_list())
        for name, spec in feature_specs.items()
    }
    tf.compat.v1.train.get_or_create_global_step()
    model_fn(features, None, tf.estimator.ModeKeys.PREDICT, run_config)
    for variable in tf.compat.v1.global_variables():
      name, shape = variable.op.name, variable.shape.as_list()
      if name not in saved:
        raise faults.different_model(model_dir, f"it has no variable '{name}'")
      if list(saved[name]) != shape:
        raise faults.different_model(
            model_dir, f"variable '{name}' has shape {list(saved[name])} there and {shape} "
            "here")
