"""Files that are whole or absent, on any tf.io.gfile filesystem (local, gs://)."""

import contextlib
import json

import tensorflow as tf


@contextlib.contextmanager
def written_atomically(path, mode="w"):
  """A file to write that appears at `path` only once complete: written beside it and renamed,
  so that a reader (or a run killed mid-write) never sees half a file. A failure inside the
  block leaves `path` as it was."""
  tmp = path + ".tmp"
  with tf.io.gfile.GFile(tmp, mode) as f:
    yield f
  tf.io.gfile.rename(tmp, path, overwrite=True)


def write_json_atomically(path, payload):
  with written_atomically(path) as f:
    json.dump(payload, f, indent=2, sort_keys=True)


def read_json(path):
  """The parsed file, or None if it does not exist."""
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)
