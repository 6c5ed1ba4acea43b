"""How gin finds the file an `include` line names, made safe while finetune parses.

gin tries each search path ('' for the working directory, then the shipped configs) with each
registered file reader, in order. One of them, gin's reader of configs inside Python packages
(gin/resource_reader.py), takes `images/feature_vector.gin` as the file feature_vector.gin of
a package `images`; under `python -m` the working directory is on sys.path, so a folder named
`images/` there is a namespace package without a file, and that reader fails with a TypeError
instead of answering "not here": a shipped config's include broke in any directory holding a
folder named like a config folder. While gin parses, `file_readers` gives every reader's
existence check the answer "not here" for such a failure, so the search goes on to the shipped
configs, as it does when there is no such folder.
"""

import contextlib

import gin


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
    try:
      return exists(path)
    except (TypeError, ValueError, ImportError, AttributeError):
      return False  # a reader that cannot tell has not found the file

  return guarded
