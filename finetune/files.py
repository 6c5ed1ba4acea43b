"""JSON files that are whole or absent, on any tf.io.gfile filesystem (local, gs://)."""

import json

import tensorflow as tf


def write_json_atomically(path, payload):
  """Writes `payload` to `path` through a temporary file and a rename, so that a reader (or a
  run killed mid-write) never sees half a file."""
  tmp = path + ".tmp"
  with tf.io.gfile.GFile(tmp, "w") as f:
    json.dump(payload, f, indent=2, sort_keys=True)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def read_json(path):
  """The parsed file, or None if it does not exist."""
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)
