"""How gin finds the file an `include` line names, made safe while finetune parses.

gin tries each search path ('' for the working directory, then the shipped configs) with each
registered file reader, in order. One of them, gin's reader of configs inside Python packages
(gin/resource_reader.py), takes `images/feature_vector.gin` as the file feature_vector.gin of
a package `images`; under `python -m` the working directory is on sys.path, so a folder named
`images/` there is a namespace package without a file, and that reader fails with a TypeError
instead of answering "not here": a shipped config's include broke in any directory holding a
folder named like a config folder. While gin parses, `file_readers` gives every reader's
existence check the answer "not here" for such a failure, so the search goes on to the shipped
configs, as it does when there is no such folder. A path that is a directory (`include
'digits'`) is refused there with one line, instead of the reader's error on reading it.
"""

import contextlib
import re

import gin
import tensorflow as tf

from finetune.errors import FinetuneError


@contextlib.contextmanager
def file_readers():
  """gin's file readers with guarded existence checks, for the duration of a parse."""
  readers = gin.config._FILE_READERS  # pylint: disable=protected-access  (no public accessor)
  saved = list(readers)
  readers[:] = [(reader, _guarded(exists)) for reader, exists in saved]
  try:
    yield
  finally:
    readers[:] = saved


def _guarded(exists):

  def guarded(path):
    check_scheme(path, "include")
    if tf.io.gfile.isdir(path):
      raise FinetuneError(_directory_message(path))
    try:
      return exists(path)
    except (TypeError, ValueError, ImportError, AttributeError):
      return False  # a reader that cannot tell has not found the file

  return guarded


def check_scheme(path, what):
  """A URL whose scheme TensorFlow's file systems do not read (https://) is named, with the
  fix, instead of TensorFlow's UnimplementedError."""
  match = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", str(path))
  if not match:
    return
  try:
    tf.io.gfile.exists(path)
  except tf.errors.UnimplementedError:
    raise FinetuneError(
        f"{what} '{path}': gin files are read from local paths and the file systems TensorFlow "
        f"reads (gs://), not '{match.group(1)}://'; download it first (curl -LO '{path}') and "
        "give the local file.") from None


def _directory_message(path):
  """gin adds the file and line of the include to the message."""
  gin_files = sorted(name for name in tf.io.gfile.listdir(path) if name.endswith(".gin"))
  held = f"; that directory holds {', '.join(gin_files[:6])}" if gin_files else ""
  return f"'{path}' is a directory; include takes a .gin file{held}."
