"""The model's pretrained part: one module, or several whose outputs are concatenated.

`experiment.module` takes one `@hub_module()` or a list of them, each in its own gin scope:

    experiment.module = [@text/hub_module(), @image/hub_module()]
    text/hub_module.handle = ...
    image/hub_module.handle = ...

Each keeps everything of its own (handle, signature, tags, input mapping, variable scope,
learning-rate multiplier, export name) and is checked, scanned, instantiated and exported on
its own; `ModuleSet` is what the model, the runtimes and the exporters hold, whatever the count.
"""

import tensorflow as tf

from finetune.errors import FinetuneError

# Top-level scopes of finetune's own variables and ops: a module named like one would take the
# head's variables for its own (its learning rate, its freezing).
RESERVED_NAMES = ("head", "training", "global_step", "optimizer", "head_optimizer",
                  "regularization")
from finetune.modules.hub_module import HubModule
from finetune.modules.naming import named_errors


class ModuleSet:
  """One or more HubModules, in the order the config lists them.

  Args:
    modules: a HubModule, or a non-empty list of them (distinct objects, variable scopes and
      export names).
  """

  def __init__(self, modules):
    listed = [modules] if isinstance(modules, HubModule) else modules
    if not (isinstance(listed, (list, tuple)) and listed and
            all(isinstance(m, HubModule) for m in listed)):
      raise FinetuneError(
          f"experiment.module must be @hub_module() or a list of them, each in its own scope "
          f"([@text/hub_module(), @image/hub_module()]); got {modules!r}.")
    self.modules = list(listed)
    if len(self.modules) > 1:  # one module keeps "module", as checkpoints before several had
      for module in self.modules:
        module.name_after_scope()
    self._check_distinct()

  def __iter__(self):
    return iter(self.modules)

  def __len__(self):
    return len(self.modules)

  def _check_distinct(self):
    selectors = [m.selector for m in self.modules]
    for i, selector in enumerate(selectors):
      if selector in selectors[:i]:
        raise FinetuneError(
            f"experiment.module lists {selector}() twice: build each module in a gin scope of "
            "its own ([@text/hub_module(), @image/hub_module()]); to apply one module to "
            f"several inputs with shared weights, give {selector}.input_mapping a list of "
            "mappings.")
    for module in self.modules:
      if module.name in RESERVED_NAMES:
        raise FinetuneError(
            f"{module.selector} has the variable scope (name) '{module.name}', which finetune "
            f"uses for its own variables ({', '.join(RESERVED_NAMES)}); set "
            f"{module.selector}.name to another name, or build it in another gin scope.")
    for attribute, what in (("name", "variable scope (name)"), ("export_name", "export_name")):
      seen = {}
      for module in self.modules:
        value = getattr(module, attribute)
        if value in seen:
          raise FinetuneError(f"{seen[value]} and {module.selector} have the same {what} "
                              f"'{value}'; set {module.selector}.{attribute} to another name.")
        seen[value] = module.selector

  def naming(self, module):
    """Errors about one of several modules name it by its scope (`text/hub_module.signature`,
    not `hub_module.signature`)."""
    return named_errors(module.selector, module.handle)

  def each(self, check):
    """Runs check(module) on every module, its errors named by the module's scope."""
    for module in self.modules:
      with self.naming(module):
        check(module)

  def validate(self, feature_specs, per_position_head=False):
    if per_position_head and (len(self.modules) > 1 or
                              len(self.modules[0].input_mappings or [None]) > 1):
      raise FinetuneError("A per-position head (token tagging) takes one module applied once; "
                          "list one module in experiment.module, with one input mapping.")
    self.each(lambda m: m.validate(feature_specs, per_position_head=per_position_head))

  @property
  def is_tf2(self):
    """Whether any module is a TF2 SavedModel (which hub's own exporter cannot export)."""
    return any(m.is_tf2 for m in self.modules)

  @property
  def single(self):
    """The module when there is exactly one, else None."""
    return self.modules[0] if len(self.modules) == 1 else None

  def has_sparse_lookups(self):
    return any(m.has_sparse_lookups() for m in self.modules)

  def instantiate(self, mode):
    """Every module's variables for `mode`; each is registered for the hub export."""
    return [m.instantiate(mode) for m in self.modules]

  def apply(self, instances, features, mode):
    """The modules on `features`: their [batch, features] outputs side by side."""
    outputs = [m.apply(i, features, mode) for m, i in zip(self.modules, instances)]
    return outputs[0] if len(outputs) == 1 else tf.concat(outputs, axis=-1)
