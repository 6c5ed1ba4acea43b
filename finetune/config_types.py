"""Every gin binding checked against its parameter's type annotation, right after parsing.

Gin binds whatever a config says; a value of the wrong kind (None where files go, a number
where a list goes, a dict where a run config goes) used to surface as a Python TypeError deep in
graph building. finetune's configurables annotate their parameters, and `check_bindings` reads
each binding (following macros, and references to other configurables) against that
annotation, so every parameter refuses a wrong kind of value with one line naming the binding
and what it takes: by construction, for parameters added later too. Ranges (a positive batch
size, a rate below 1) stay with the constructors, which know what the numbers mean.
"""

import collections.abc
import inspect
import typing

import gin

from finetune.errors import FinetuneError

_NOT_CHECKED = object()  # a value whose type is known only once gin calls something


def check_bindings(configurable_for, signature_chain):
  """Raises FinetuneError for the first binding whose value does not fit its annotation.

  Args:
    configurable_for: selector -> gin's configurable (None if unknown), as config.py finds it.
    signature_chain: wrapped -> [(function, owner)] whose parameters gin binds on it.
  """
  for (scope, selector), bindings in gin.config._CONFIG.items():  # pylint: disable=protected-access
    if selector == "gin.macro":
      continue
    configurable = configurable_for(selector)
    if configurable is None or not (configurable.wrapped.__module__ or "").startswith("finetune"):
      continue
    hints = type_hints(configurable.wrapped, signature_chain)
    for name, value in bindings.items():
      if name in hints:
        _check(f"{scope + '/' if scope else ''}{configurable.name}.{name}", value, hints[name])


def type_hints(wrapped, signature_chain):
  """{parameter: annotation} along the signature chain of a configurable's wrapped object."""
  hints = {}
  for function, _ in reversed(signature_chain(wrapped)):
    hints.update(typing.get_type_hints(function))
  return hints


def _check(binding, raw, hint):
  value = _resolved(raw)
  if value is _NOT_CHECKED or fits(value, hint):
    return
  wanted = describe(hint)
  if isinstance(value, gin.config.ConfigurableReference):
    name = value.configurable.name
    if not value.evaluate and f"@{name}()" in wanted:
      wanted += f" (@{name} is the configurable itself; @{name}() builds one)"
    elif value.evaluate and _reference_fits(_uncalled(value), hint):
      wanted += f" (@{name}() builds an instance; write @{name} for the class itself)"
  raise FinetuneError(f"{binding} = {_shown(raw)} is {_kind(value)}; it takes {wanted}.")


def _resolved(value, chain=()):
  """A binding's value as the configurable will receive it, as far as parsing can tell:
  macros followed (a cycle of macros is refused); a reference stays a reference (its
  configurable is what is known)."""
  if isinstance(value, gin.config.ConfigurableReference):
    if value.configurable.wrapped is gin.config.macro:
      name = value.scopes[-1]
      if name in chain:
        raise FinetuneError(f"Macros refer to each other in a cycle: "
                            f"{' -> '.join(chain + (name,))}; give one of them a value.")
      macro = gin.config._CONFIG.get((name, "gin.macro"), {})  # pylint: disable=protected-access
      return _resolved(macro["value"], chain + (name,)) if "value" in macro else _NOT_CHECKED
    return value
  if isinstance(value, (list, tuple)):
    return type(value)(_resolved(v, chain) for v in value)
  if isinstance(value, dict):
    return {k: _resolved(v, chain) for k, v in value.items()}
  return value


def fits(value, hint):
  """Whether `value` (with references unresolved) can be a `hint`."""
  if value is _NOT_CHECKED or hint is typing.Any:
    return True
  if isinstance(value, gin.config.ConfigurableReference):
    return _reference_fits(value, hint)
  origin, args = typing.get_origin(hint), typing.get_args(hint)
  if origin is typing.Union:
    return any(fits(value, arm) for arm in args)
  if hint is type(None):
    return value is None
  if hint is bool:
    return isinstance(value, bool)
  if hint is int:
    return isinstance(value, int) and not isinstance(value, bool)
  if hint is float:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
  if origin is tuple and args and args[-1] is not Ellipsis:  # a fixed shape: ("int", [])
    return (isinstance(value, (list, tuple)) and len(value) == len(args) and
            all(fits(v, a) for v, a in zip(value, args)))
  if origin in (list, tuple, collections.abc.Sequence):
    return isinstance(value, (list, tuple)) and all(fits(v, args[0]) for v in value if args)
  if origin in (dict, collections.abc.Mapping):
    return isinstance(value, dict) and all(
        fits(k, args[0]) and fits(v, args[1]) for k, v in value.items() if args)
  if origin is collections.abc.Callable or hint is collections.abc.Callable:
    return callable(value)
  if inspect.isclass(hint):
    return isinstance(value, hint)
  return True


def _reference_fits(reference, hint):
  """`@name()` is what the configurable builds (an instance of its class); `@name` is the
  configurable itself (a class or function, as `optimization.optimizer` takes)."""
  wrapped = reference.configurable.wrapped
  origin, args = typing.get_origin(hint), typing.get_args(hint)
  if origin is typing.Union:
    return any(_reference_fits(reference, arm) for arm in args)
  if origin is collections.abc.Callable or hint is collections.abc.Callable:
    # `@AdamOptimizer` is a class to call; `@AdamOptimizer()` an instance, callable only if
    # its class defines __call__.
    return not (reference.evaluate and inspect.isclass(wrapped) and not any(
        "__call__" in vars(k) for k in wrapped.__mro__ if k is not object))
  if not reference.evaluate:
    return False
  if inspect.isclass(wrapped) and inspect.isclass(hint):
    return issubclass(wrapped, hint)
  returns = _return_type(wrapped) if not inspect.isclass(wrapped) else None
  if returns is None:
    return not inspect.isclass(wrapped) or hint is typing.Any
  return fits_type(returns, hint)


def _uncalled(reference):
  """`@name` for a reference written `@name()`."""
  return gin.config.ConfigurableReference(reference.scoped_selector, False)


def fits_type(given, hint):
  """Whether a function annotated to return `given` fits `hint`."""
  if inspect.isclass(given) and inspect.isclass(hint):
    return issubclass(given, hint)
  return True


def describe(hint):
  """A type annotation in the words a config writer uses."""
  origin, args = typing.get_origin(hint), typing.get_args(hint)
  if origin is typing.Union:
    return " or ".join(describe(arm) for arm in args)
  if hint is type(None):
    return "None"
  words = {bool: "True or False (unquoted)", int: "an integer", float: "a number",
           str: "a string", typing.Any: "anything"}
  if hint in words:
    return words[hint]
  if origin is tuple and args and args[-1] is not Ellipsis:
    return f"a pair ({', '.join(describe(a) for a in args)})"
  if origin in (list, tuple, collections.abc.Sequence):
    return f"a list of {_plural(args[0])}" if args else "a list"
  if origin in (dict, collections.abc.Mapping):
    return f"a dict of {_plural(args[0])} to {_plural(args[1])}" if args else "a dict"
  if origin is collections.abc.Callable or hint is collections.abc.Callable:
    return "a function or class (e.g. @tf.nn.relu)"
  if inspect.isclass(hint):
    builders = _builders(hint)
    if len(builders) == 1:
      return builders[0]
    return f"one of {', '.join(builders)}" if builders else f"a {hint.__name__}"
  return str(hint)


def _builders(cls):
  """The configurables whose call gives a `cls`: @name() as a config writes it."""
  names = set()
  for _, configurable in gin.config._REGISTRY.items():  # pylint: disable=protected-access
    wrapped = configurable.wrapped
    built = wrapped if inspect.isclass(wrapped) else _return_type(wrapped)
    if inspect.isclass(built) and issubclass(built, cls):
      names.add(f"@{configurable.name}()")
  return sorted(names)


def _return_type(function):
  try:
    return typing.get_type_hints(function).get("return")
  except Exception:  # pylint: disable=broad-except  (another library's annotations)
    return None


def _plural(hint):
  text = describe(hint)
  for article in ("an ", "a "):
    if text.startswith(article):
      head, space, rest = text[len(article):].partition(" ")  # "a dict of x" -> "dicts of x"
      return f"{head}s{space}{rest}" if rest.startswith(("of ", "(")) else text[len(article):] + "s"
  return text


def _kind(value):
  if isinstance(value, gin.config.ConfigurableReference):
    return f"@{value.configurable.name}{'()' if value.evaluate else ''}"
  if value is None:
    return "None"
  return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
          list: "a list", tuple: "a tuple", dict: "a dict"}.get(type(value),
                                                                 type(value).__name__)


def _shown(value):
  text = repr(value) if not isinstance(value, gin.config.ConfigurableReference) else str(value)
  return text if len(text) <= 60 else text[:57] + "..."
