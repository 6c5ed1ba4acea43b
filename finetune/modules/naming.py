"""Messages about a module built in a gin scope name it by the scope.

With several modules (`experiment.module = [@text/hub_module(), @image/hub_module()]`) a line
that says `hub_module.signature` would not say which; every check of a scoped module runs
under `named_errors`, which puts the scope in.
"""

import contextlib
import re

from finetune.errors import FinetuneError
@contextlib.contextmanager
def named_errors(selector, handle):
  """Errors about a module built in a gin scope name it by the scope: `text/hub_module.signature`
  where the message says `hub_module.signature`, or a `text/hub_module ('<handle>'):` prefix."""
  if selector == "hub_module":
    yield
    return
  try:
    yield
  except FinetuneError as e:
    if type(e) is not FinetuneError:  # pylint: disable=unidiomatic-typecheck
      raise
    message = re.sub(r"(?<![\w/'.-])hub_module\.(?=[a-z_]+\b)", f"{selector}.", str(e))
    if selector not in message:
      message = f"{selector} ('{handle}'): {message}"
    raise FinetuneError(message) from e
