"""Undo what a failed run wrote before its first training step.

A data mistake often shows only when the first batch runs, after the Estimator has written
`model.ckpt-0`, events and the operative config. Left there, they make a fixed rerun
("n_classes = 5" instead of 4) meet "checkpoints of a different model". So a run that fails
before it completed a training step puts the model_dir back as it found it: what it created
is removed, and the small files at the top that it rewrote (the `checkpoint` index, the
operative config, the command record) get their old bytes back. A checkpoint the run saved
again at its starting step has the same bytes. The snapshot is taken while the run holds
the model_dir lock, so nothing another run wrote is touched. The lock file is the lock's:
never removed or rewritten here (the kernel's lock is on that very file), and a model_dir the
run created is removed only once the lock is released, if nothing else is in it by then
(`remove_if_empty`).
"""

import logging
import os

import tensorflow as tf

from finetune import files
from finetune.process.lock import LOCK_FILE
from finetune.process.lock import local_path

SMALL_FILE_BYTES = 1 << 20
log = logging.getLogger("finetune")


class Snapshot:
  """What model_dir held: every path below it, and the top-level small files' bytes.

  Args:
    model_dir: the directory.
    existed: whether it existed before the run started (the run's checks may have created
      it since); if not, it is removed after the restore if nothing else is in it
      (`remove_if_empty`). What is in it when the snapshot is taken stays either way:
      another run may have written it between the checks and this run's lock.
  """

  def __init__(self, model_dir, existed=True):
    self.model_dir = model_dir
    self.existed = existed and tf.io.gfile.isdir(model_dir)
    self.paths, self.top = set(), {}
    if not tf.io.gfile.isdir(model_dir):
      return
    for directory, dirs, names in tf.io.gfile.walk(model_dir):
      self.paths.update(os.path.join(directory, n) for n in list(dirs) + list(names))
    for name in tf.io.gfile.listdir(model_dir):
      path = os.path.join(model_dir, name)
      if name == LOCK_FILE or tf.io.gfile.isdir(path):
        continue
      if tf.io.gfile.stat(path).length <= SMALL_FILE_BYTES:
        self.top[path] = _read(path)

  def restore(self):
    """Removes what is new and rewrites the top-level small files that changed. A failure
    here is logged, never raised: the run's own error is the one to report."""
    # The Estimator's cached event writers stay open and would recreate the directory.
    tf.compat.v1.summary.FileWriterCache.clear()
    try:
      self._restore()
    except (tf.errors.OpError, OSError) as e:
      log.warning("Could not put %s back as it was: %s", self.model_dir, e)

  def _restore(self):
    new = []
    for directory, dirs, names in tf.io.gfile.walk(self.model_dir):
      new += [os.path.join(directory, n) for n in list(dirs) + list(names)
              if os.path.join(directory, n) not in self.paths]
    for path in sorted(new, key=len):  # a new folder goes before what it holds
      if os.path.basename(path) == LOCK_FILE or not tf.io.gfile.exists(path):
        continue
      if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
      else:
        tf.io.gfile.remove(path)
    for path, content in self.top.items():
      if tf.io.gfile.exists(path) and _read(path) != content:
        _write_atomically(path, content)

  def remove_if_empty(self):
    """After a restore and the lock's release: a model_dir this run created goes too, unless
    another run has put something in it since."""
    if self.existed:
      return
    try:
      if tf.io.gfile.isdir(self.model_dir) and not tf.io.gfile.listdir(self.model_dir):
        local = local_path(self.model_dir)
        os.rmdir(local) if local is not None else tf.io.gfile.rmtree(self.model_dir)
    except tf.errors.NotFoundError:
      pass
    except (tf.errors.OpError, OSError) as e:
      log.warning("Could not remove %s: %s", self.model_dir, e)


class TrainedMarker(tf.compat.v1.train.SessionRunHook):
  """Notes that a training step of this run completed (after which nothing is undone)."""

  def __init__(self):
    self.trained = False

  def after_run(self, run_context, run_values):
    self.trained = True


def _read(path):
  with tf.io.gfile.GFile(path, "rb") as f:
    return f.read()


def _write_atomically(path, content):
  with files.written_atomically(path, "wb") as f:
    f.write(content)
