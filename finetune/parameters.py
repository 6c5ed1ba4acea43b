"""Every gin parameter finetune offers, read from the code: the reference in docs/parameters.md.

    python -m finetune.parameters [--output=docs/parameters.md]

For each configurable finetune registers (registry.py): its gin name, what it is (the first
paragraph of its docstring), and per parameter the code's default, the value the shipped base
configs set (configs/base/defaults.gin and plumbing.gin) and the meaning from the docstring's
Args section. A configurable that passes `**kwargs` on to a base class (the data sources'
pipeline options, the optimizers' Adam settings) lists the base class's parameters too, since
gin accepts them. tests/test_parameters.py fails when docs/parameters.md differs from this.
"""

import inspect
import os
import re
import sys

from absl import app
from absl import flags

from finetune import logs

logs.quiet_tensorflow_before_import(False)

import gin  # noqa: E402

from finetune import config  # noqa: E402
from finetune import config_types  # noqa: E402
from finetune import registry  # noqa: E402,F401  (registers every configurable)

BASE_CONFIGS = ("base/defaults.gin", "base/plumbing.gin")
_ARG_LINE = re.compile(r"^(\w+(?:, \w+)*): ?(.*)$")


def configurables():
  """[(gin name, the wrapped class or function)] of finetune's configurables, by name."""
  found = []
  for _, configurable in gin.config._REGISTRY.items():  # pylint: disable=protected-access
    if (getattr(configurable.wrapped, "__module__", "") or "").startswith("finetune."):
      found.append((configurable.name, configurable))
  return sorted(found, key=lambda item: item[0])


def _docstring_args(obj):
  """{parameter: description} from a Google-style docstring's Args section."""
  doc = inspect.getdoc(obj) or ""
  if "Args:" not in doc:
    return {}
  described, current = {}, None
  for line in doc.split("Args:", 1)[1].splitlines()[1:]:
    if not line.strip():
      current = None
      continue
    if not line.startswith("  "):  # the next section (Returns:, Raises:, ...)
      break
    text = line.strip()
    match = _ARG_LINE.match(text) if not line.startswith("    ") else None
    if match:
      current = [name.strip() for name in match.group(1).split(",")]
      for name in current:
        described[name] = match.group(2)
    elif current:
      for name in current:
        described[name] = f"{described[name]} {text}".strip()
  return described


def parameters(configurable):
  """[(name, default, description)] of what gin can bind on `configurable`."""
  denied = set(configurable.denylist or ())
  rows, seen = [], set()
  for function, owner in config.signature_chain(configurable.wrapped):
    described = {}
    for cls in reversed(inspect.getmro(owner) if inspect.isclass(owner) else (owner,)):
      described.update(_docstring_args(cls))  # a subclass's words win over its base's
    described.update(_docstring_args(function))
    for parameter in inspect.signature(function).parameters.values():
      if (parameter.name in ("self",) or parameter.name in denied or parameter.name in seen or
          parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)):
        continue
      seen.add(parameter.name)
      rows.append((parameter.name, _default(parameter), described.get(parameter.name, "")))
  return rows


def _default(parameter):
  if parameter.default is inspect.Parameter.empty or parameter.default is gin.REQUIRED:
    return "required"
  if callable(parameter.default) and hasattr(parameter.default, "__name__"):
    return parameter.default.__name__  # a function (an activation): its repr holds an address
  return repr(parameter.default)


def base_values():
  """{(configurable, parameter): value} as the shipped base configs bind them."""
  values = {}
  for name in BASE_CONFIGS:
    with open(os.path.join(config.CONFIG_DIR, name)) as f:
      for line in f:
        match = re.match(r"^([\w.]+)\.(\w+)\s*=\s*(.+?)\s*(#.*)?$", line.strip())
        if match:
          values[(match.group(1), match.group(2))] = match.group(3)
  return values


def _summary(configurable):
  doc = inspect.getdoc(configurable.wrapped) or ""
  return " ".join(doc.split("\n\n", 1)[0].split())


def _cell(text):
  return text.replace("|", "\\|").replace("\n", " ")


def markdown():
  """The whole reference page."""
  base = base_values()
  lines = [
      "# Every gin parameter",
      "",
      "Generated from the code by `python -m finetune.parameters --output=docs/parameters.md`;",
      "tests/test_parameters.py fails when this page is out of date. *default*: the code's",
      "default (*required*: the config must set it); *takes*: what a binding may be, checked",
      "when the config is parsed (finetune/config_types.py); *base configs*: the value",
      f"{' and '.join(f'`configs/{c}`' for c in BASE_CONFIGS)} bind, which every task config",
      "includes. Bind a parameter as `name.parameter = value` in a gin file or with",
      "`--gin_bindings`.",
      "",
  ]
  for name, configurable in configurables():
    lines += [f"## `{name}`", "", _summary(configurable), ""]
    rows = parameters(configurable)
    if not rows:
      lines += ["No parameters.", ""]
      continue
    lines += ["| parameter | takes | default | base configs | meaning |",
              "|---|---|---|---|---|"]
    hints = config_types.type_hints(configurable.wrapped, config.signature_chain)
    for parameter, default, description in rows:
      bound = base.get((name, parameter), "")
      takes = config_types.describe(hints[parameter]) if parameter in hints else ""
      lines.append(f"| `{parameter}` | {_cell(takes)} | `{_cell(default)}` | "
                   f"{f'`{_cell(bound)}`' if bound else ''} | {_cell(description)} |")
    lines.append("")
  return "\n".join(lines)


def main(argv):
  del argv
  page = markdown()
  if flags.FLAGS.output:
    with open(flags.FLAGS.output, "w") as f:
      f.write(page)
  else:
    sys.stdout.write(page)
  return 0


if __name__ == "__main__":
  flags.DEFINE_string("output", None, "Write the page here instead of printing it.")
  app.run(main)
