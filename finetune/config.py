"""Gin plumbing: where configs are found, parsing with readable errors, gin's errors explained.

Config files are found relative to the working directory first, then in the shipped configs
(`finetune/configs/` of an installed package, `configs/` of a source tree), so
`--gin_file=digits/finetune.gin` and `include 'base/defaults.gin'` work from anywhere.
`base/plumbing.gin` (the wiring of experiment's pieces) is read before every config. A model_dir
describes itself: with no config file, MODEL_DIR/operative_config.gin is read instead.
"""

import codecs
import difflib
import inspect
import logging
import os
import re

import gin
import gin.tf.external_configurables  # noqa: F401  (tf.train optimizers, decays, activations)
import tensorflow as tf

from finetune import config_includes
from finetune import config_reach
from finetune import config_scopes
from finetune import config_types
from finetune import files
from finetune import registry  # noqa: F401  (registers finetune's configurables)
from finetune.errors import FinetuneError
from finetune.errors import without_gin_context

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
CONFIG_DIR = next((d for d in (os.path.join(_PACKAGE, "configs"),
                               os.path.join(os.path.dirname(_PACKAGE), "configs"))
                   if os.path.isdir(d)), os.path.join(_PACKAGE, "configs"))
PLUMBING = "base/plumbing.gin"
OPERATIVE_CONFIG = "operative_config.gin"
MAX_GIN_FILE_BYTES = 1_000_000  # a config is text a person writes; more is the wrong file


def parse(gin_files, gin_bindings, model_dir=None, allow_imports=False):
  """Clears gin, then parses plumbing, the files (later ones override), then the bindings.

  With no files, falls back to MODEL_DIR/operative_config.gin so that evaluate, export,
  predict and resumed training reuse what the model was trained with (bindings alone, from
  Python, also make a config).

  `allow_imports`: let a gin `import` line import modules other than finetune's own.

  Raises:
    FinetuneError: an import not allowed, a missing file, a syntax error (with file and line), an unknown
      configurable or parameter (with the closest known names), a value of the wrong kind, a
      binding in a scope that no reference enters, a command-line binding on a configurable
      the config never builds.
  """
  gin.clear_config(clear_constants=False)
  _add_search_path()
  gin_files = list(gin_files or [])
  if not gin_files and model_dir:
    operative = os.path.join(model_dir, OPERATIVE_CONFIG)
    if tf.io.gfile.exists(operative):
      gin_files = [operative]
  if not gin_files and not gin_bindings:
    raise FinetuneError("No config: pass --gin_file=FILE (e.g. --gin_file=digits/finetune.gin)"
                        " or a --model_dir that holds an operative_config.gin.")
  gin_files = [_locate(PLUMBING)] + [_locate(path) for path in gin_files]
  # gin logs an error (root logger) for every search-path miss while resolving `include`;
  # those are not the user's errors, so they are hidden unless TensorFlow's logs are on.
  quiet = not logging.getLogger("tensorflow").isEnabledFor(logging.INFO)
  if quiet:
    logging.disable(logging.CRITICAL)
  try:
    _check_imports(gin_files, gin_bindings or [], allow_imports)
    with config_includes.file_readers():
      gin.parse_config_files_and_bindings(gin_files, gin_bindings or [], finalize_config=False)
  except FinetuneError:
    raise
  except SyntaxError as e:
    where = f"{e.filename}:{e.lineno}" if e.filename else f"line {e.lineno}"
    raise FinetuneError(f"Gin syntax error at {where}: {e.msg}\n  {e.text or ''}".rstrip()) from e
  except (ValueError, KeyError, TypeError, IOError) as e:
    raise FinetuneError(explain_gin_error(e)) from e
  except RecursionError as e:
    raise FinetuneError("Gin files include each other in a cycle (an `include` leads back to a "
                        f"file being read): {', '.join(gin_files[1:])}. Remove the include that "
                        "closes the cycle.") from e
  finally:
    if quiet:
      logging.disable(logging.NOTSET)
  _check_macros_are_read(gin_files, gin_bindings or [])
  config_types.check_bindings(gin.config._REGISTRY.get_match, signature_chain)  # pylint: disable=protected-access
  config_scopes.check(gin.config._CONFIG, gin.config._REGISTRY.get_match)  # pylint: disable=protected-access
  config_reach.check(gin_bindings or [], gin.config._REGISTRY.get_match, signature_chain)  # pylint: disable=protected-access


def signature_chain(wrapped):
  """[(callable, its docstring owner)] whose parameters gin can bind on a configurable: the
  configurable, then, where a class's `**kwargs` reaches a base class's __init__, that too."""
  if not inspect.isclass(wrapped):
    return [(wrapped, wrapped)]
  chain = []
  for cls in wrapped.__mro__:
    if "__init__" not in vars(cls) or cls is object:
      continue
    chain.append((cls.__init__, cls))
    if not any(p.kind == p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values()):
      break
  return chain


def _check_macros_are_read(gin_files, gin_bindings):
  """A macro that nothing reads is a typo (`TRAIN_STEP = 10` beside the config's
  TRAIN_STEPS), which gin would otherwise accept and ignore. "Read" means written as %NAME
  somewhere in the configs or bindings: a macro whose reader a later binding replaced
  (a sweep binding the parameter itself) is not a typo."""
  config = gin.config._CONFIG  # pylint: disable=protected-access
  defined = {name for name, selector in config if selector == "gin.macro"}
  if not defined:
    return
  text = "\n".join(list(gin_bindings) + [_read_with_includes(path) for path in gin_files])
  written = set(re.findall(r"%([A-Za-z_][\w.]*)", text))
  for name in sorted(defined - written):
    close = difflib.get_close_matches(name, sorted(written), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise FinetuneError(f"Macro {name} is set but nothing in the config reads it (as %{name}); "
                        f"{hint}The macros read are: {', '.join(sorted(written)) or 'none'}.")


def _read_with_includes(path):
  """The text of a gin file and of the files it includes, found as gin finds them."""
  return "\n".join(text for _, text in _texts_with_includes(path))


def _texts_with_includes(path, seen=None):
  """[(path, text)] of a gin file and of the files it includes, found as gin finds them."""
  seen = set() if seen is None else seen
  if path in seen:
    return []
  seen.add(path)
  text = files.read_text(path, "Gin file")
  with tf.io.gfile.GFile(path, "rb") as f:
    if f.read(3) == codecs.BOM_UTF8:  # gin reads it as part of the first line's first token
      raise FinetuneError(f"Gin file '{path}' starts with a UTF-8 byte-order mark, which gin "
                          "cannot read; save it without one (sed -i '1s/^\xEF\xBB\xBF//' "
                          f"{path}).")
  texts = [(path, text)]
  for name in re.findall(r"^\s*include\s+['\"]([^'\"]+)['\"]", text, re.M):
    config_includes.check_scheme(name, f"{path}: include")
    for candidate in (os.path.join(os.path.dirname(path), name), name,
                      os.path.join(CONFIG_DIR, name)):
      if tf.io.gfile.exists(candidate) and not tf.io.gfile.isdir(candidate):  # gin refuses one
        texts.extend(_texts_with_includes(candidate, seen))
        break
  return texts


def _check_imports(gin_files, gin_bindings, allow_imports):
  """A gin `import` line imports (runs) a Python module, from the working directory too, so
  a config file would be code. Before gin reads anything, imports other than finetune's own
  packages and gin's built-in features are refused unless the user allowed them."""
  if allow_imports:
    return
  sources = [("--gin_bindings", "\n".join(gin_bindings))]
  sources += [item for path in gin_files for item in _texts_with_includes(path)]
  for source, text in sources:
    for statement in _statements(text):
      module = getattr(statement, "module", None)
      if module is None or module.split(".")[0] in ("finetune", "__gin__"):
        continue
      raise FinetuneError(
          f"{source}:{statement.location.line_num}: `{statement.location.line_content.strip()}`"
          f" would import Python module '{module}', and importing runs its code. A config may "
          "import only finetune's own packages; if you trust the module, pass "
          "--allow_gin_imports (api.train(allow_gin_imports=True)).")


def _statements(text):
  """gin's own reading of `text`, statement by statement, up to a syntax error (which gin's
  parse then reports with its file and line)."""
  from gin import config_parser  # pylint: disable=g-import-not-at-top
  statements = []
  try:
    for statement in config_parser.ConfigParser(text, gin.config.ParserDelegate(True)):
      statements.append(statement)
  except SyntaxError:
    pass
  return statements


def replace_pieces(pieces):
  """Binds each of experiment's pieces given as a Python object (`api.train(data=...)`) to
  None in gin, so the config's reference for it (`experiment.data = @csv_data()`) is not
  built: gin builds the references it holds even for a parameter the caller passes. The
  operative config then records None there: the object cannot be written as gin.

  Args:
    pieces: {experiment's parameter name: the object passed for it}.
  """
  with gin.unlock_config():
    for name in pieces:
      gin.bind_parameter(f"experiment.{name}", None)


def _add_search_path():
  # gin keeps search paths process-wide (clear_config keeps them): add ours once.
  if CONFIG_DIR not in gin.config._LOCATION_PREFIXES:  # pylint: disable=protected-access
    gin.add_config_file_search_path(CONFIG_DIR)


def shipped_configs():
  """The shipped config files, as the short names --gin_file takes."""
  return sorted(
      os.path.relpath(os.path.join(d, f), CONFIG_DIR)
      for d, _, files in os.walk(CONFIG_DIR)
      for f in files
      if f.endswith(".gin"))


def _locate(path):
  """The config file at `path` (working directory first, then the shipped configs)."""
  config_includes.check_scheme(path, "Gin file")
  for candidate in (path, os.path.join(CONFIG_DIR, path)):
    if tf.io.gfile.isdir(candidate):
      raise FinetuneError(f"Gin file '{path}' is a directory; give a .gin file, e.g. "
                          f"{', '.join(shipped_configs()[:3])}.")
    if tf.io.gfile.exists(candidate):
      files.check_regular(candidate, "Gin file", max_bytes=MAX_GIN_FILE_BYTES)
      return candidate
  raise FinetuneError(f"Gin file '{path}' not found (looked in the working directory and in "
                      f"{CONFIG_DIR}). Shipped configs: {', '.join(shipped_configs())}.")


def _registered_names():
  # gin has no public listing of its configurables; this one read is confined here.
  return [selector for selector, _ in gin.config._REGISTRY.items()]  # pylint: disable=protected-access


def _parameter_suggestions(name, param):
  try:
    configurable = gin.get_configurable(name)
  except ValueError:
    return [], []
  params = list(inspect.signature(configurable).parameters)
  return [f"{name}.{p}" for p in difflib.get_close_matches(param, params, n=3)], params


def explain_gin_error(error):
  """Gin's message, made actionable: the closest known names for an unknown configurable or
  parameter, the full name of a missing required setting."""
  message = without_gin_context(error)
  required = re.search(r"Required bindings for `(\w+)` not provided in config: \[(.*?)\]", message)
  if required:
    names = [n.strip(" '\"") for n in required.group(2).split(",")]
    return ("Missing required setting" + ("s" if len(names) > 1 else "") + ": " +
            ", ".join(f"{required.group(1)}.{n}" for n in names) +
            ". Set it in the config or with --gin_bindings.")
  unknown_param = re.search(r"Configurable '([\w.]+)' doesn't have a parameter named '(\w+)'",
                            message)
  unknown_configurable = re.search(r"No configurable matching '([\w.]+)'", message)
  suggestions = []
  if unknown_param:
    suggestions, params = _parameter_suggestions(*unknown_param.groups())
    if not suggestions and params:
      message += f"\nIts parameters are: {', '.join(params)}."
  elif unknown_configurable:
    names = _registered_names()
    short = {selector.rsplit(".", 1)[-1]: selector for selector in names}
    wanted = unknown_configurable.group(1)
    suggestions = difflib.get_close_matches(wanted, list(short), n=3)
    suggestions += difflib.get_close_matches(wanted, names, n=3, cutoff=0.8)
  if suggestions:
    message += f"\nDid you mean: {', '.join(dict.fromkeys(suggestions))}?"
  return message
