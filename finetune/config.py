"""Gin plumbing for the command: search paths, parsing with readable errors, the run record.

Config files are found relative to the working directory first, then in the repo's
`configs/` folder, so `--gin_file=digits/finetune.gin` and `include 'base/defaults.gin'`
work from anywhere. A model_dir describes itself: with no --gin_file, the command re-reads
MODEL_DIR/operative_config.gin (written by gin.tf.GinConfigSaverHook during training).
"""

import difflib
import inspect
import logging
import os
import re

import gin
import gin.tf.external_configurables  # noqa: F401  (tf.train optimizers, decays, activations)
import tensorflow as tf

from finetune import experiment  # noqa: F401  (registers finetune's configurables)
from finetune.errors import FinetuneError

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
OPERATIVE_CONFIG = "operative_config.gin"


def add_search_paths():
  if os.path.isdir(CONFIG_DIR) and CONFIG_DIR not in gin.config._LOCATION_PREFIXES:
    gin.add_config_file_search_path(CONFIG_DIR)


def parse(gin_files, gin_bindings, model_dir=None):
  """Parses gin files (later ones override) then bindings (which override files).

  With no files, falls back to MODEL_DIR/operative_config.gin so that evaluate, export,
  predict and resumed training reuse what the model was trained with.

  Raises:
    FinetuneError: a missing file, a syntax error (with file and line), an unknown
      configurable or parameter (with the closest known names), a value of the wrong kind.
  """
  add_search_paths()
  gin_files = list(gin_files or [])
  if not gin_files and model_dir:
    operative = os.path.join(model_dir, OPERATIVE_CONFIG)
    if tf.io.gfile.exists(operative):
      gin_files = [operative]
  if not gin_files:
    raise FinetuneError("No config: pass --gin_file=FILE (e.g. --gin_file=digits/finetune.gin)"
                        " or a --model_dir that holds an operative_config.gin.")
  gin_files = [_locate(path) for path in gin_files]
  # gin logs an error (root logger) for every search-path miss while resolving `include`;
  # those are not the user's errors, so they are hidden unless TensorFlow's logs are on.
  quiet = not logging.getLogger("tensorflow").isEnabledFor(logging.INFO)
  if quiet:
    logging.disable(logging.CRITICAL)
  try:
    gin.parse_config_files_and_bindings(gin_files, gin_bindings or [], finalize_config=False)
  except FinetuneError:
    raise
  except SyntaxError as e:
    where = f"{e.filename}:{e.lineno}" if e.filename else f"line {e.lineno}"
    raise FinetuneError(f"Gin syntax error at {where}: {e.msg}\n  {e.text or ''}".rstrip()) from e
  except (ValueError, KeyError, TypeError, IOError) as e:
    raise FinetuneError(explain_gin_error(e)) from e
  finally:
    if quiet:
      logging.disable(logging.NOTSET)


def _locate(path):
  """The config file at `path` (working directory first, then configs/)."""
  for candidate in (path, os.path.join(CONFIG_DIR, path)):
    if tf.io.gfile.exists(candidate):
      return candidate
  known = sorted(
      os.path.relpath(os.path.join(d, f), CONFIG_DIR)
      for d, _, files in os.walk(CONFIG_DIR)
      for f in files
      if f.endswith(".gin"))
  raise FinetuneError(f"Gin file '{path}' not found (looked in the working directory and in "
                      f"{CONFIG_DIR}). Shipped configs: {', '.join(known)}.")


def explain_gin_error(error):
  """Adds the closest known names to gin's message about an unknown configurable or parameter."""
  message = str(error)
  unknown_param = re.search(r"Configurable '([\w.]+)' doesn't have a parameter named '(\w+)'",
                            message)
  unknown_configurable = re.search(r"No configurable matching '([\w.]+)'", message)
  suggestions = []
  if unknown_param:
    name, param = unknown_param.groups()
    configurable = gin.config._REGISTRY.get_match(name)  # pylint: disable=protected-access
    params = list(inspect.signature(configurable.wrapped).parameters) if configurable else []
    suggestions = [f"{name}.{p}" for p in difflib.get_close_matches(param, params, n=3)]
    if not suggestions and params:
      message += f"\nIts parameters are: {', '.join(params)}."
  elif unknown_configurable:
    names = [selector for selector, _ in gin.config._REGISTRY.items()]  # pylint: disable=protected-access
    short = {selector.rsplit(".", 1)[-1]: selector for selector in names}
    wanted = unknown_configurable.group(1)
    suggestions = difflib.get_close_matches(wanted, list(short), n=3)
    suggestions += difflib.get_close_matches(wanted, names, n=3, cutoff=0.8)
  if suggestions:
    message += f"\nDid you mean: {', '.join(dict.fromkeys(suggestions))}?"
  return message
