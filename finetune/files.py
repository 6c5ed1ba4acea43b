"""Files that are whole or absent, on any tf.io.gfile filesystem (local, gs://)."""

import contextlib
import json
import os
import stat

import tensorflow as tf

from finetune.errors import FinetuneError


@contextlib.contextmanager
def written_atomically(path, mode="w"):
  """A file to write that appears at `path` only once complete: written beside it and renamed,
  so that a reader (or a run killed mid-write) never sees half a file. A failure inside the
  block leaves `path` as it was."""
  tmp = path + ".tmp"
  with tf.io.gfile.GFile(tmp, mode) as f:
    yield f
  tf.io.gfile.rename(tmp, path, overwrite=True)


def check_regular(path, what, max_bytes=None):
  """Refuses a local path that is not a regular file (a device such as /dev/zero, a FIFO, a
  socket: reading one may never end) or, with `max_bytes`, one larger than that. Paths on
  other file systems (gs://) are regular files by construction."""
  if "://" in str(path):
    return
  try:
    info = os.stat(path)
  except OSError:
    return  # not there: the caller's own check names it
  if not stat.S_ISREG(info.st_mode):
    raise FinetuneError(f"{what} '{path}' is not a regular file (a device, FIFO or socket, "
                        "which may never end); give a file.")
  if max_bytes is not None and info.st_size > max_bytes:
    raise FinetuneError(f"{what} '{path}' is {info.st_size:,} bytes, more than the "
                        f"{max_bytes:,} such a file can sensibly be; is it the right file?")


def write_json_atomically(path, payload):
  with written_atomically(path) as f:
    json.dump(payload, f, indent=2, sort_keys=True)


def read_json(path):
  """The parsed file, or None if it does not exist."""
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)
