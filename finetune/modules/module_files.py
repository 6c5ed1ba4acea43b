"""A module folder's definition files, read before anything else reads them.

tensorflow_hub reads an empty tfhub_module.pb as a module of format 0 ("Unsupported module def
format: 0"), an empty saved_model.pb as a module without graphs (so the first question, which
tag set to load, had the answer "it has: " and nothing), and a damaged tfhub_module.pb as a
damaged saved_model.pb. `check` names the file that is wrong, and how, before the graph scan
or hub reads the module.
"""

import os

import tensorflow as tf
from tensorflow_hub import module_def_pb2

from finetune.errors import FinetuneError
from finetune.modules import graph_ops
from finetune.modules.variables_check import FIX

MODULE_DEF = "tfhub_module.pb"
SAVED_MODEL = "saved_model.pb"


def check(handle, path):
  """Raises FinetuneError if the folder `path` (module `handle`) has an empty or unreadable
  tfhub_module.pb or saved_model.pb. A folder with neither file is left to the caller, which
  says what a module folder holds."""
  if not tf.io.gfile.isdir(path):
    return
  present = [n for n in (MODULE_DEF, SAVED_MODEL) if tf.io.gfile.exists(os.path.join(path, n))]
  for name in present:
    if tf.io.gfile.stat(os.path.join(path, name)).length == 0:
      raise FinetuneError(f"Module '{handle}': its {name} ({os.path.join(path, name)}) is "
                          "empty (0 bytes), so the module is incomplete (a copy or download "
                          f"cut short, or a failed export). {FIX}")
  if MODULE_DEF in present:
    _check_module_def(handle, os.path.join(path, MODULE_DEF))
  if SAVED_MODEL in present:
    _check_saved_model(handle, path)


def _check_module_def(handle, file):
  module_def = module_def_pb2.ModuleDef()
  try:
    with tf.io.gfile.GFile(file, "rb") as f:
      module_def.ParseFromString(f.read())
  except Exception as e:  # pylint: disable=broad-except  (protobuf's DecodeError)
    raise FinetuneError(f"Module '{handle}': its {MODULE_DEF} ({file}) is not a TF1 Hub module "
                        f"definition ({type(e).__name__}: {e}); the file is damaged or is "
                        f"another file under that name. {FIX}") from None
  if module_def.format != module_def_pb2.ModuleDef.FORMAT_V3:
    raise FinetuneError(f"Module '{handle}': its {MODULE_DEF} ({file}) declares module format "
                        f"{module_def.format}, and tensorflow_hub reads only format "
                        f"{module_def_pb2.ModuleDef.FORMAT_V3} (FORMAT_V3); the file is damaged "
                        f"or is not a TF1 Hub module definition. {FIX}")


def _check_saved_model(handle, path):
  file = os.path.join(path, SAVED_MODEL)
  try:
    saved_model = graph_ops.read_saved_model(path)
  except Exception as e:  # pylint: disable=broad-except  (protobuf's DecodeError and others)
    raise FinetuneError(f"Module '{handle}': its {SAVED_MODEL} ({file}) does not read as a "
                        f"SavedModel ({type(e).__name__}: {e}); the file is damaged or "
                        f"truncated. {FIX}") from None
  if not saved_model.meta_graphs:
    raise FinetuneError(f"Module '{handle}': its {SAVED_MODEL} ({file}) holds no graph, so "
                        f"the file is damaged or is not a module's saved_model.pb. {FIX}")
