"""Strict tarball extraction for http(s) module handles.

tensorflow-hub's resolver is replaced by one that keeps hub's download, cache layout and lock
(resolver.atomic_download) but refuses an archive with a member that is absolute, climbs out
with "..", or is a link or device, instead of extracting anything from it.
"""

import functools
import os
import tarfile
import urllib.request

import tensorflow as tf
from tensorflow_hub import compressed_module_resolver
from tensorflow_hub import registry
from tensorflow_hub import resolver

from finetune.errors import FinetuneError


class UnsafeArchive(FinetuneError):
  """A module archive with a member that would land outside its folder."""


def check_member(member):
  name = member.name
  normalized = os.path.normpath(name)
  if name.startswith("/") or os.path.isabs(name) or (len(name) > 1 and name[1] == ":"):
    raise UnsafeArchive(f"archive member '{name}' has an absolute path")
  if normalized == ".." or normalized.startswith(".." + os.sep):
    raise UnsafeArchive(f"archive member '{name}' climbs out of the module folder")
  if member.issym() or member.islnk():
    raise UnsafeArchive(f"archive member '{name}' is a link (to '{member.linkname}')")
  if not (member.isfile() or member.isdir()):
    raise UnsafeArchive(f"archive member '{name}' is a special file")


def extract_strictly(fileobj, destination):
  """Streams a (compressed) tar into `destination`, refusing unsafe members first."""
  with tarfile.open(mode="r|*", fileobj=fileobj) as archive:
    for member in archive:
      check_member(member)
      target = os.path.join(destination, os.path.normpath(member.name))
      if member.isdir():
        tf.io.gfile.makedirs(target)
        continue
      tf.io.gfile.makedirs(os.path.dirname(target))
      source = archive.extractfile(member)
      with tf.io.gfile.GFile(target, "wb") as out:
        while True:
          chunk = source.read(1 << 20)
          if not chunk:
            break
          out.write(chunk)


class StrictHttpCompressedFileResolver(compressed_module_resolver.HttpCompressedFileResolver):
  """hub's http(s) tarball resolver with strict extraction."""

  def __call__(self, handle):

    def download(handle, tmp_dir):
      request = urllib.request.Request(self._append_compressed_format_query(handle))
      extract_strictly(self._call_urlopen(request), tmp_dir)

    return resolver.atomic_download(
        handle,
        download,
        compressed_module_resolver._module_dir(handle),  # pylint: disable=protected-access
        self._lock_file_timeout_sec())


@functools.cache  # hub's resolver registry is process-wide: register once per process
def install():
  """Registers the strict resolver ahead of hub's own (the last registered is tried first)."""
  registry.resolver.add_implementation(StrictHttpCompressedFileResolver())
