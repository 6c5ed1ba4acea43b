"""Module handles: where a module lives, who may load it, and what is there instead of a module.

A handle is a local path, file://, gs:// or an http(s) URL of a compressed module; hub resolves
and caches it (TFHUB_CACHE_DIR). Loading a module runs its graph, so a handle is code:
`allowed_prefixes` (hub_module.allowed_handle_prefixes in gin) refuses any other handle before
it is resolved.
"""

import os

import tensorflow as tf
import tensorflow_hub as hub

from finetune.errors import FinetuneError
from finetune.modules import resolvers


def _normalized(path):
  """Local paths resolved (no '..', no symlink tricks); URLs as given."""
  path = str(path)
  if path.startswith("file://"):
    path = path[len("file://"):]
  return path if "://" in path else os.path.realpath(path)


def _under(handle, prefix):
  """True if `handle` is `prefix` or inside it, whole path components only."""
  handle, prefix = _normalized(handle), _normalized(prefix)
  if prefix.endswith("/"):
    return handle.startswith(prefix) or handle == prefix.rstrip("/")
  return handle == prefix or handle.startswith(prefix + "/")


def check_allowed(handle, allowed_prefixes):
  if allowed_prefixes is not None and not any(_under(handle, p) for p in allowed_prefixes):
    raise FinetuneError(
        f"Module handle '{handle}' is not allowed: hub_module.allowed_handle_prefixes = "
        f"{list(allowed_prefixes)}. Loading a module runs its graph; add a trusted prefix to "
        "load it.")


def load_spec(handle, allowed_prefixes=None):
  """Resolves `handle` (path, file://, gs://, http(s)) and loads its TF1 Hub module spec.

  Raises:
    FinetuneError: naming the handle and what was found there instead of a TF1 Hub module.
  """
  if not handle:
    raise FinetuneError("No module handle: set hub_module.handle to a path or URL of a "
                        "TF1 Hub format module.")
  check_allowed(handle, allowed_prefixes)
  resolvers.install()
  try:
    return hub.load_module_spec(handle)
  except resolvers.UnsafeArchive as e:
    raise FinetuneError(f"Refused module '{handle}': {e}. Nothing from it was kept; a module "
                        "archive must hold only plain files and folders inside it.") from e
  except Exception as e:  # hub raises several unrelated types for a bad handle.
    raise FinetuneError(describe_bad_handle(handle, e)) from e


def describe_bad_handle(handle, error):
  """Says what `handle` points at, since hub's own errors rarely do."""
  path = handle[len("file://"):] if handle.startswith("file://") else handle
  if "://" not in path or path.startswith("gs://"):
    if not tf.io.gfile.exists(path):
      return (f"Module handle '{handle}' does not exist. Give a directory that holds "
              "tfhub_module.pb, a file:// or gs:// path, or an http(s) URL of a "
              "compressed module.")
    if tf.io.gfile.isdir(path) and not tf.io.gfile.exists(os.path.join(path, "tfhub_module.pb")):
      if tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        return (f"Module handle '{handle}' is a SavedModel (the TF2 format), not a TF1 Hub "
                "format module (no tfhub_module.pb). finetune needs the TF1 Hub format "
                "(hub.Module): use the module's TF1 version, or export one with "
                "hub.create_module_spec.")
      return (f"Module handle '{handle}' is a directory without tfhub_module.pb, so it is "
              "not a TF1 Hub format module.")
    if "DecodeError" in type(error).__name__ or "parse" in str(error).lower():
      return (f"Module '{handle}' has a tfhub_module.pb but its saved_model.pb could not be "
              f"read ({type(error).__name__}: {error}); the module is corrupt or truncated. "
              "Export or download it again (for a cached download, delete its folder under "
              "TFHUB_CACHE_DIR).")
  return f"Could not load module '{handle}': {type(error).__name__}: {error}"
