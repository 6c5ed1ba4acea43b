"""Undo what a failed run wrote before its first training step.

A data mistake often shows only when the first batch runs, after the Estimator has written
`model.ckpt-0`, events and the operative config. Left there, they make a fixed rerun
("n_classes = 5" instead of 4) meet "checkpoints of a different model". So a run that fails
before it completed a training step puts the model_dir back as it found it: what it created
is removed, the small files it rewrote (the `checkpoint` index, the operative config, the
command record) get their old bytes back.
"""

import os

import tensorflow as tf

SMALL_FILE_BYTES = 1 << 20  # kept in memory to restore; checkpoints are rewritten unchanged


class Snapshot:
  """What model_dir held: its files' sizes, times and (small ones) bytes."""

  def __init__(self, model_dir):
    self.model_dir = model_dir
    self.existed = tf.io.gfile.isdir(model_dir)
    self.files, self.dirs = {}, set()
    if self.existed:
      for path in _walk(model_dir, self.dirs):
        stat = tf.io.gfile.stat(path)
        content = _read(path) if stat.length <= SMALL_FILE_BYTES else None
        self.files[path] = (stat.length, stat.mtime_nsec, content)

  def restore(self):
    """Removes what is new and rewrites the small files that changed."""
    # The Estimator's cached event writers stay open and would recreate the directory.
    tf.compat.v1.summary.FileWriterCache.clear()
    if not self.existed:
      if tf.io.gfile.isdir(self.model_dir):
        tf.io.gfile.rmtree(self.model_dir)
      return
    dirs = set()
    for path in _walk(self.model_dir, dirs):
      if path not in self.files:
        tf.io.gfile.remove(path)
        continue
      length, mtime, content = self.files[path]
      stat = tf.io.gfile.stat(path)
      if content is not None and (stat.length, stat.mtime_nsec) != (length, mtime):
        with tf.io.gfile.GFile(path, "wb") as f:
          f.write(content)
        if "://" not in path:
          os.utime(path, ns=(mtime, mtime))
    for new in sorted(dirs - self.dirs, key=len, reverse=True):
      if tf.io.gfile.isdir(new):
        tf.io.gfile.rmtree(new)


class TrainedMarker(tf.compat.v1.train.SessionRunHook):
  """Notes that a training step of this run completed (after which nothing is undone)."""

  def __init__(self):
    self.trained = False

  def after_run(self, run_context, run_values):
    self.trained = True


def _walk(root, dirs):
  for directory, _, names in tf.io.gfile.walk(root):
    dirs.add(directory)
    for name in names:
      yield os.path.join(directory, name)


def _read(path):
  with tf.io.gfile.GFile(path, "rb") as f:
    return f.read()
