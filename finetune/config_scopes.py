"""Scoped bindings checked against the scopes a config can enter, right after parsing.

gin applies `scope/name.param = value` only while `scope` is active. finetune's code opens no
scope of its own (it never calls gin.config_scope), so a scope is entered only by a reference
written with it, `@scope/name` (e.g. `experiment.module = @text/hub_module()`), and stays
active for whatever that call builds. A binding under a scope that no reference names is never
applied: `foo/hub_module.handle = 'x'`, meant as `hub_module.handle`, would leave the handle
as it was, silently. `check` refuses such a binding with one line.
"""

import difflib

import gin

from finetune.errors import FinetuneError


def check(config, configurable_for):
  """Raises FinetuneError for the first binding with a scope that no `@scope/...` reference
  names.

  A binding `a/b/name.param` applies only once references have entered `a`, then `b`; each
  of its scope names must appear in a reference (whether they nest in that order is left to
  gin: this check never refuses a binding that could apply).

  Args:
    config: gin's bindings, {(scope, selector): {parameter: value}}.
    configurable_for: selector -> gin's configurable (None if unknown), for the short name.
  """
  entered = entered_scopes(config)
  for (scope, selector), bindings in config.items():
    if not scope or selector == "gin.macro":  # a macro is stored as a binding in its name
      continue
    missing = [name for name in scope.split("/") if name not in entered]
    if not missing:
      continue
    configurable = configurable_for(selector)
    name = configurable.name if configurable is not None else selector
    binding = f"{scope}/{name}.{next(iter(bindings), '')}"
    raise FinetuneError(
        f"{binding} is bound in scope '{missing[0]}', which no reference in the config enters "
        f"(a scope is entered by a reference such as @{missing[0]}/{name}()), so gin would "
        f"never apply it. {_scopes_hint(missing[0], entered)} For the setting without a "
        f"scope, write {name}.{next(iter(bindings), '')}.")


def entered_scopes(config):
  """The scope names of every reference in the bound values (macros' values included)."""
  entered = set()
  for bindings in config.values():
    for value in bindings.values():
      for reference in _references(value):
        entered.update(reference.scopes)
  return entered


def _references(value):
  """The configurable references in a bound value, through lists, tuples and dicts; a macro
  (`%NAME`, stored by gin as a reference scoped by its name) is none."""
  if isinstance(value, gin.config.ConfigurableReference):
    if value.configurable.wrapped is not gin.config.macro:
      yield value
  elif isinstance(value, (list, tuple)):
    for item in value:
      yield from _references(item)
  elif isinstance(value, dict):
    for item in value.values():
      yield from _references(item)


def _scopes_hint(scope, entered):
  if not entered:
    return "The config enters no scope."
  close = difflib.get_close_matches(scope, sorted(entered), n=1)
  hint = f" Did you mean {close[0]}?" if close else ""
  return f"The scopes the config enters are: {', '.join(sorted(entered))}.{hint}"
