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
from finetune.modules import graph_ops
from finetune.modules import module_files
from finetune.modules import resolvers
from finetune.modules import tf2_module
from finetune.modules import variables_check


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


def check_no_links(handle, path):
  """Refuses a local module folder with a symbolic link inside it (the folder itself may be
  one): exports copy a module's files, assets included, so a link would carry whatever it
  points to into every export. Downloaded archives refuse links before extracting."""
  if "://" in str(path):
    return
  for folder, subfolders, files in os.walk(path):
    for name in sorted(subfolders + files):
      entry = os.path.join(folder, name)
      if os.path.islink(entry):
        raise FinetuneError(
            f"Module '{handle}' holds a symbolic link: {os.path.relpath(entry, path)} -> "
            f"{os.readlink(entry)}. Exports copy a module's files, so a link would carry what "
            "it points to into every export; replace it with a copy of the file.")


def load_spec(handle, allowed_prefixes=None, check=None):
  """Resolves `handle` (path, file://, gs://, http(s)) and loads its spec: a hub.ModuleSpec
  for a TF1 Hub module, a tf2_module.TF2Spec for a TF2 SavedModel (told apart by the files).

  `check(resolved path)`, if given, runs after resolving and before anything is loaded (the
  graph scan: hub.load builds a TF2 SavedModel's graph to describe it).

  Raises:
    FinetuneError: naming the handle and what was found there instead of a module.
  """
  if not handle:
    raise FinetuneError("No module handle: set hub_module.handle to a path or URL of a "
                        "TF1 Hub format module or a TF2 SavedModel.")
  check_allowed(handle, allowed_prefixes)
  resolvers.install()
  try:
    path = hub.resolve(handle)
    check_no_links(handle, path)
    module_files.check(handle, path)
    if check is not None:
      check(path)
    try:
      variables_check.check(handle, path)
      if tf2_module.is_tf2_saved_model(path):
        return _load_tf2(handle, path)
      return hub.load_module_spec(path)
    except Exception as e:  # pylint: disable=broad-except
      if not _is_download(handle):
        raise
      raise FinetuneError(f"{describe_bad_handle(handle, e)} The module is a cached download "
                          f"({path}); delete that folder to download it again.") from e
  except resolvers.UnsafeArchive as e:  # before FinetuneError, of which it is one
    raise FinetuneError(f"Refused module '{handle}': {e}. Nothing from it was kept; a module "
                        "archive must hold only plain files and folders inside it.") from e
  except FinetuneError:
    raise
  except Exception as e:  # hub raises several unrelated types for a bad handle.
    raise FinetuneError(describe_bad_handle(handle, e)) from e


def _load_tf2(handle, path):
  """A TF2 SavedModel's spec; a TF1 SavedModel (no TF2 objects to call) is refused."""
  saved_model = graph_ops.read_saved_model(path)
  if not any(len(m.object_graph_def.nodes) > 1 for m in saved_model.meta_graphs):
    raise FinetuneError(
        f"Module handle '{handle}' is a TF1 SavedModel (saved_model.pb without "
        "tfhub_module.pb and without TF2 objects), neither a TF1 Hub format module nor a TF2 "
        "SavedModel. Export it as a TF1 Hub module (hub.create_module_spec) or as a TF2 "
        "SavedModel with a __call__ (tf.saved_model.save).")
  return tf2_module.read_spec(handle, path)


def _is_download(handle):
  return str(handle).startswith(("http://", "https://"))


def describe_bad_handle(handle, error):
  """Says what `handle` points at, since hub's own errors rarely do."""
  if isinstance(error, FinetuneError):
    return str(error)
  path = handle[len("file://"):] if handle.startswith("file://") else handle
  if "://" not in path or path.startswith("gs://"):
    if not tf.io.gfile.exists(path):
      return (f"Module handle '{handle}' does not exist. Give a directory that holds "
              "tfhub_module.pb (TF1 Hub format) or saved_model.pb (TF2 SavedModel), a "
              "file:// or gs:// path, or an http(s) URL of a compressed module.")
    if not tf.io.gfile.isdir(path):
      return _file_handle_message(handle, path)
    has = lambda name: tf.io.gfile.exists(os.path.join(path, name))
    if not has("tfhub_module.pb") and not has("saved_model.pb"):
      return (f"Module handle '{handle}' is a directory without tfhub_module.pb or "
              "saved_model.pb, so it is neither a TF1 Hub format module nor a TF2 SavedModel.")
    if "DecodeError" in type(error).__name__ or "parse" in str(error).lower():
      kind = "tfhub_module.pb" if has("tfhub_module.pb") else "no tfhub_module.pb (TF2)"
      return (f"Module '{handle}' has {kind} but its saved_model.pb could not be "
              f"read ({type(error).__name__}: {error}); the module is corrupt or truncated. "
              "Export or download it again (for a cached download, delete its folder under "
              "TFHUB_CACHE_DIR).")
  return f"Could not load module '{handle}': {type(error).__name__}: {error}"


def _file_handle_message(handle, path):
  """A handle that names a file: a module's own .pb, a local archive, or something else."""
  name, folder = os.path.basename(path), os.path.dirname(path.rstrip("/")) or "."
  if name in ("tfhub_module.pb", "saved_model.pb"):
    return (f"Module handle '{handle}' is the module's file {name}; a handle names the "
            f"module's folder: hub_module.handle = '{folder}'.")
  if name.endswith((".tar.gz", ".tgz")):
    return (f"Module handle '{handle}' is a local archive, and tensorflow_hub reads a local "
            "module only as a folder (archives only over http(s)). Unpack it (mkdir MODULE && "
            f"tar -xzf {path} -C MODULE) and set hub_module.handle = 'MODULE', or serve it over "
            "http(s) and give its URL.")
  return (f"Module handle '{handle}' is a file; a handle names a module's folder, one that "
          "holds tfhub_module.pb (TF1 Hub format) or saved_model.pb (TF2 SavedModel).")
