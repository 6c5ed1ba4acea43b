"""Command-line bindings on a configurable the config never builds, refused after parsing.

gin binds `multi_class_head.n_classes = 3` whether or not anything builds a multi_class_head;
with `experiment.head = @binary_class_head()` the binding is ignored, silently. A config
builds what `experiment` (and the download settings, which code reads itself) refer to,
through the references in their bindings (macros followed) and the few configurables code
builds from another one's defaults (`CODE_EDGES`). A binding given on the command line or by
a sweep (`--gin_bindings`, `--grid`, `--space`) on a configurable outside that reach is
refused, naming the parameter that would bring it in. Bindings inside config files are not:
a variant file may swap a piece its included file configured.
"""

import collections.abc
import inspect
import re
import typing

import gin

from finetune import config_types
from finetune.errors import FinetuneError

ROOTS = ("experiment", "download")  # what finetune's code calls by itself
# configurable -> configurables its code builds when a parameter is left at its default
CODE_EDGES = {"training": ("optimization",), "optimization": ("learning_rate_schedule",)}


def check(gin_bindings, configurable_for, signature_chain):
  """Raises FinetuneError for the first binding in `gin_bindings` (the strings given on the
  command line) on a finetune configurable that nothing the config builds refers to."""
  reached = reachable(configurable_for)
  check_scoped(configurable_for)
  names = [m.group(1) for binding in gin_bindings
           for m in re.finditer(r"^\s*([\w./]+)\s*=", binding, re.M)]  # a value may hold lines
  for name in names:
    if "." not in name:
      continue  # a macro
    selector = name.rsplit(".", 1)[0].split("/")[-1]
    configurable = configurable_for(selector)
    if configurable is None or configurable.name in reached or not _is_finetunes(configurable):
      continue
    raise FinetuneError(
        f"{name} is set, but the config builds no {configurable.name}: nothing it builds "
        f"refers to @{configurable.name}, so the binding would be ignored. "
        f"{_where_it_plugs_in(configurable, reached, configurable_for, signature_chain)}")


def check_scoped(configurable_for):
  """A binding `scope/name.param` applies only to a `name` built while the scope is active:
  built by the reference `@scope/X` or by what X builds. One on anything else (`a/optimization.
  ...` where the scope `a` only builds a hub_module) would be ignored; refused."""
  config = gin.config._CONFIG  # pylint: disable=protected-access
  built_in = {}  # scope name -> configurables built while it is active
  for bindings in config.values():
    for value in bindings.values():
      for reference in _references(value, config):
        for scope in reference.scopes:
          built_in.setdefault(scope, set()).update(
              reachable(configurable_for, (reference.configurable.name,)))
  for (scope, selector), bindings in config.items():
    if not scope or selector == "gin.macro":
      continue
    configurable = configurable_for(selector)
    if configurable is None:
      continue
    missing = [s for s in scope.split("/") if configurable.name not in built_in.get(s, ())]
    if missing and missing[0] in built_in:  # an unknown scope is config_scopes' to name
      parameter = next(iter(bindings), "")
      raise FinetuneError(
          f"{scope}/{configurable.name}.{parameter} is bound in scope '{missing[0]}', but "
          f"nothing built in that scope builds {configurable.name} (it builds "
          f"{', '.join(sorted(built_in[missing[0]]))}), so gin would never apply it. For the "
          f"setting without a scope, write {configurable.name}.{parameter}.")


def reachable(configurable_for, roots=ROOTS):
  """Names of the configurables the config can build from `roots` through references."""
  config = gin.config._CONFIG  # pylint: disable=protected-access
  by_name = {}
  for (_, selector), bindings in config.items():
    configurable = configurable_for(selector) if selector != "gin.macro" else None
    if configurable is not None:
      by_name.setdefault(configurable.name, []).append(bindings)
  reached, frontier = set(), list(roots)
  while frontier:
    name = frontier.pop()
    if name in reached:
      continue
    reached.add(name)
    frontier += CODE_EDGES.get(name, ())
    for bindings in by_name.get(name, []):
      for value in bindings.values():
        frontier += [r.configurable.name for r in _references(value, config)]
  return reached


def _references(value, config, seen=()):
  """References in a bound value, through containers and macros."""
  if isinstance(value, gin.config.ConfigurableReference):
    if value.configurable.wrapped is gin.config.macro:
      name = value.scopes[-1]
      macro = config.get((name, "gin.macro"), {})
      return [] if name in seen or "value" not in macro else _references(
          macro["value"], config, seen + (name,))
    return [value]
  if isinstance(value, (list, tuple)):
    return [r for v in value for r in _references(v, config, seen)]
  if isinstance(value, dict):
    return [r for v in value.values() for r in _references(v, config, seen)]
  return []


def _is_finetunes(configurable):
  return (configurable.wrapped.__module__ or "").startswith("finetune")


def _where_it_plugs_in(configurable, reached, configurable_for, signature_chain):
  """'Set experiment.head = @multi_class_head() to use it' where a parameter of something
  built takes what the configurable builds."""
  built = configurable.wrapped if inspect.isclass(configurable.wrapped) else \
      typing.get_type_hints(configurable.wrapped).get("return")
  for name in sorted(reached):
    owner = configurable_for(name)
    if owner is None or not _is_finetunes(owner):
      continue
    for parameter, hint in config_types.type_hints(owner.wrapped, signature_chain).items():
      if parameter == "return":
        continue
      callable_ = hint is collections.abc.Callable or typing.get_origin(hint) is \
          collections.abc.Callable
      if (callable_ and inspect.isclass(configurable.wrapped) and  # a class the code calls
          parameter in configurable.name.lower()):  # optimization.optimizer: @AdamWOptimizer
        return (f"Set {owner.name}.{parameter} = @{configurable.name} to use it, or leave the "
                "binding out.")
      if built is not None and _takes(hint, built):
        return (f"Set {owner.name}.{parameter} = @{configurable.name}() to use it, or leave "
                "the binding out.")
  return "Leave the binding out, or refer to it from the config."


def _takes(hint, built):
  """Whether a parameter annotated `hint` takes an instance of `built`."""
  if typing.get_origin(hint) is typing.Union or typing.get_origin(hint) in (list, tuple):
    return any(_takes(arm, built) for arm in typing.get_args(hint))
  if typing.get_origin(hint) is not None and typing.get_args(hint):
    return any(_takes(arm, built) for arm in typing.get_args(hint))
  return inspect.isclass(hint) and inspect.isclass(built) and issubclass(built, hint) and \
      hint is not object
