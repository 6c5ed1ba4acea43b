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
  if tf.io.gfile.isdir(path):
    raise FinetuneError(f"'{path}' is a directory where finetune writes a file; move it away "
                        "and run again.")
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


def read_text(path, what):
  """A UTF-8 text file's contents; anything else is refused naming the file and the line of
  the first byte that is not UTF-8 (a Latin-1 config, or a binary file given by mistake)."""
  with tf.io.gfile.GFile(path, "rb") as f:
    data = f.read()
  try:
    return data.decode("utf-8-sig")
  except UnicodeDecodeError as e:
    line = data[:e.start].count(b"\n") + 1
    raise FinetuneError(f"{what} '{path}' is not UTF-8 text: byte 0x{data[e.start]:02x} on "
                        f"line {line}. Save it as UTF-8 (or check that it is the right "
                        "file).") from None


def check_directory_or_absent(path, what):
  """Refuses a path that exists and is not a directory, before anything is written into it."""
  if tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path):
    raise FinetuneError(f"{what} '{path}' is a file, not a directory; give a directory (it is "
                        "created if it does not exist).")


def write_json_atomically(path, payload):
  with written_atomically(path) as f:
    json.dump(payload, f, indent=2, sort_keys=True)


def read_json(path):
  """The parsed file, or None if it does not exist."""
  if not tf.io.gfile.exists(path):
    return None
  with tf.io.gfile.GFile(path) as f:
    return json.load(f)
