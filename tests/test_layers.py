"""finetune's imports go one way, bottom to top, with no cycles: read from the source (every
import statement, also those inside functions), not from what happens to be loaded."""

import ast
import os
import sys

import finetune

# Bottom to top: a module may import from its own package and from packages of lower layers.
LAYERS = (
    ("errors",),
    ("files", "checks", "formatting", "logs", "config_types", "config_scopes", "config_includes"),
    ("config_reach",),  # reads config_types' annotations
    ("process",),  # signals, locks, other processes
    ("modules",),
    ("inputs", "embeddings"),
    ("outputs",),
    ("prediction",),  # batch prediction: reads inputs' unlabelled files, writes rows
    ("training",),
    ("runtime",),
    ("trials",),
    ("settings",),
    ("job",),
    ("schedules",),
    ("experiment",),
    ("registry",),
    ("config",),
    ("sweep_plans",),
    ("api_base",),  # the API's result type and funnel
    ("api_sweeps",),  # the API's sweeps, re-exported by api
    ("api", "command"),
    ("train", "inspect", "sweep", "export_embedding", "parameters"),
)
ROOT = os.path.dirname(finetune.__file__)


def _modules():
  """{dotted module name: path} of every module of the package."""
  found = {}
  for folder, _, files in os.walk(ROOT):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(folder, name)
        dotted = "finetune." + os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
        found[dotted[:-len(".__init__")] if dotted.endswith(".__init__") else dotted] = path
  return found


def _imports(path, modules):
  """The finetune modules `path` imports (`from finetune.x import y` counts as finetune.x.y
  when that is a module, else finetune.x)."""
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  names = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names.update(a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      for alias in node.names:
        full = f"{node.module}.{alias.name}"
        names.add(full if full in modules else node.module)
  return {n for n in names if n == "finetune" or n.startswith("finetune.")}


def _unit(module):
  """The layered unit of a module: its top-level package or module below finetune."""
  parts = module.split(".")
  return parts[1] if len(parts) > 1 else ""


def _graph():
  modules = _modules()
  return {m: _imports(path, modules) - {m} for m, path in modules.items()}


def test_every_unit_has_a_layer():
  units = {_unit(m) for m in _modules()} - {""}
  layered = {u for layer in LAYERS for u in layer}
  assert units - layered == set(), "add the new package or module to LAYERS"


def test_no_import_goes_up_or_sideways():
  rank = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
  rank[""] = len(LAYERS)  # finetune/__init__ may import anything; nothing imports it
  wrong = []
  for module, imported in _graph().items():
    for target in imported:
      a, b = _unit(module), _unit(target)
      if a != b and rank[b] >= rank[a]:
        wrong.append(f"{module} -> {target}")
  assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_no_two_modules_import_each_other_even_through_others():
  graph = _graph()
  cycles = []
  state = {}  # module -> "open" while on the path, "done" after

  def visit(module, path):
    state[module] = "open"
    for target in sorted(graph.get(module, ())):
      if state.get(target) == "open":
        cycles.append(" -> ".join(path[path.index(target):] + [target]))
      elif target not in state:
        visit(target, path + [target])
    state[module] = "done"

  for module in sorted(graph):
    if module not in state:
      visit(module, [module])
  assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path, monkeypatch):
  """The checks above fail when they should: a package with a cycle and an upward import."""
  package = tmp_path / "finetune"
  (package / "modules").mkdir(parents=True)
  (package / "__init__.py").write_text("")
  (package / "modules" / "__init__.py").write_text("")
  (package / "modules" / "a.py").write_text("from finetune.modules import b\n")
  (package / "modules" / "b.py").write_text("def f():\n  from finetune.modules import a\n")
  (package / "errors.py").write_text("from finetune.modules import a\n")
  monkeypatch.setattr(sys.modules[__name__], "ROOT", str(package))
  graph = _graph()
  assert graph["finetune.modules.a"] == {"finetune.modules.b"}
  assert graph["finetune.modules.b"] == {"finetune.modules.a"}
  for check in (test_no_import_goes_up_or_sideways,
                test_no_two_modules_import_each_other_even_through_others):
    try:
      check()
    except AssertionError:
      continue
    raise AssertionError(f"{check.__name__} passed on a broken package")
