"""Strict tarball extraction for http(s) module handles.

tensorflow-hub's resolver is replaced by one that keeps hub's download, cache layout and lock
(resolver.atomic_download) but refuses an archive with a member that is absolute, climbs out
with "..", or is a link or device, instead of extracting anything from it; whose connect and
reads time out, with progress lines (downloads.py); and that takes over a lock left by a
process that is gone, or says whose download it waits for (download_lock.py).
"""

import functools
import os
import tarfile
import zlib

import tensorflow as tf
from tensorflow_hub import compressed_module_resolver
from tensorflow_hub import registry
from tensorflow_hub import resolver

from finetune.errors import FinetuneError
from finetune.modules import download_lock
from finetune.modules import downloads
from finetune.modules import graph_ops
from finetune.process.signals import phase


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


def check_download(handle, folder):
  """A download enters the cache only if it holds a module at its top whose saved_model.pb
  reads: otherwise every later run would load the broken copy from the cache."""
  entries = sorted(tf.io.gfile.listdir(folder))
  has = lambda name: name in entries
  if not has("saved_model.pb"):
    nested = [e.rstrip("/") for e in entries if tf.io.gfile.exists(
        os.path.join(folder, e, "saved_model.pb"))]
    where = f" (a module sits in its folder '{nested[0]}/')" if nested else ""
    raise FinetuneError(
        f"Refused the download of '{handle}': the archive has no saved_model.pb at its top"
        f"{where}; it holds {', '.join(entries[:8]) or 'nothing'}. A module archive has the "
        "module's files at its top (tar -czf module.tar.gz -C MODULE_DIR .). Nothing was kept "
        "in the cache.")
  try:
    graph_ops.read_saved_model(folder)
  except Exception as e:  # pylint: disable=broad-except  (protobuf's DecodeError and others)
    raise FinetuneError(
        f"Refused the download of '{handle}': its saved_model.pb cannot be read "
        f"({type(e).__name__}: {e}); the archive is damaged or not a module. Nothing was kept "
        "in the cache.") from None


def not_an_archive(handle, response, error):
  """What came instead of a module archive (a web page, an error text), as far as its content
  type and first bytes tell."""
  start = response.first_bytes.decode("utf-8", "replace").strip()
  start = repr(start[:48] + ("..." if len(start) > 48 else "")) if start else "nothing"
  return (f"Refused the download of '{handle}': the server answered with "
          f"{response.content_type or 'no content type'} ({start}), not a module archive "
          f"(.tar.gz: {error}). Give the URL of the module's .tar.gz (a tfhub.dev-style URL "
          "serves it when asked with ?tf-hub-format=compressed). Nothing was kept in the cache.")


class StrictHttpCompressedFileResolver(compressed_module_resolver.HttpCompressedFileResolver):
  """hub's http(s) tarball resolver with strict extraction."""

  def __call__(self, handle):
    module_dir = compressed_module_resolver._module_dir(handle)  # pylint: disable=protected-access

    def download(handle, tmp_dir):
      url = self._append_compressed_format_query(handle)
      with phase(f"downloading {handle}"), downloads.opened(url, handle,
                                                            self._context) as response:
        try:
          extract_strictly(response, tmp_dir)
        except (tarfile.TarError, EOFError, zlib.error) as e:
          raise FinetuneError(not_an_archive(handle, response, e)) from None
      check_download(handle, tmp_dir)  # refused: hub deletes tmp_dir, the cache stays empty

    download_lock.wait_for_owner(handle, module_dir, self._lock_file_timeout_sec())
    return resolver.atomic_download(handle, download, module_dir, self._lock_file_timeout_sec())


@functools.cache  # hub's resolver registry is process-wide: register once per process
def install():
  """Registers the strict resolver ahead of hub's own (the last registered is tried first)."""
  registry.resolver.add_implementation(StrictHttpCompressedFileResolver())
