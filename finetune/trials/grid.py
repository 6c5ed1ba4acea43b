"""Planning a sweep: grids of gin values, their trials, and the command that runs each trial."""

import ast
import itertools
import json
import re
import sys

from finetune import files
from finetune.errors import FinetuneError
from finetune.formatting import handle_short_name



def parse_grid(text):
  """'PARAM=[v1, v2]' -> (PARAM, [v1, v2]). Values are Python/gin literals; a string that
  starts with @ or % is a gin reference or macro and is bound unquoted."""
  match = re.match(r"^\s*([\w./%]+)\s*=\s*(\[.*\])\s*$", text, re.S)
  if not match:
    raise FinetuneError(f"Grid '{text}' is not PARAM=[v1, v2, ...], e.g. "
                        "\"learning_rate_schedule.base_learning_rate=[0.01, 0.001]\".")
  try:
    values = ast.literal_eval(match.group(2))
  except (ValueError, SyntaxError) as e:
    raise FinetuneError(f"Grid values of '{match.group(1)}' are not a list of literals: "
                        f"{match.group(2)} ({e}). Quote strings; write references as "
                        "\"@name\".") from e
  if not values:
    raise FinetuneError(f"Grid '{match.group(1)}' has no values.")
  return match.group(1), list(values)


def read_sweep_file(path):
  """Grids from a JSON file ({"grid": {PARAM: [...]}, "zip": bool}) or a gin-style file of
  `PARAM = [v1, v2]` lines. Returns ([(param, values)], zip)."""
  text = files.read_text(path, "Sweep file")
  if path.endswith(".json"):
    try:
      spec = json.loads(text)
      return [(k, list(v)) for k, v in spec["grid"].items()], bool(spec.get("zip", False))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
      raise FinetuneError(f"Sweep file '{path}' is not a sweep: {type(e).__name__}: {e}. It "
                          "should read {\"grid\": {\"PARAM\": [v1, v2]}, \"zip\": false}.") from e
  lines = [l.split("#", 1)[0].strip() for l in text.splitlines()]
  return [parse_grid(l) for l in lines if l], False


def format_value(value):
  if isinstance(value, str) and value[:1] in ("@", "%"):
    return value
  return repr(value)


def short_value(param, value):
  """What a trial name shows of a value: a module handle's last path component."""
  text = str(value)
  if "handle" in param.lower() or "/" in text:
    return handle_short_name(text)
  if text[:1] in ("@", "%"):  # a reference: its last name part, e.g. AdamOptimizer
    text = text.lstrip("@%").rstrip("()").rsplit(".", 1)[-1]
  selector, name = param.rsplit(".", 1) if "." in param else ("", param)
  scope = selector.rsplit("/", 1)[0] + "." if "/" in selector else ""  # a/hub_module.x: a.x
  return f"{scope.replace('/', '.')}{name.split('/')[0]}={text}"


def plan(grids, zipped=False):
  """[(name, {param: value})] for the cross product of grids (or their zip)."""
  if not grids:
    raise FinetuneError("No grid: give --grid='PARAM=[v1, v2]' or --sweep_file.")
  params = [p for p, _ in grids]
  twice = sorted({p for p in params if params.count(p) > 1})
  if twice:
    raise FinetuneError(f"{', '.join(twice)} is gridded more than once; give all its values in "
                        "one --grid (or one line of the sweep file).")
  _check_distinct(grids, zipped)
  if zipped:
    lengths = {len(v) for _, v in grids}
    if len(lengths) != 1:
      raise FinetuneError(f"--zip needs grids of one length; got lengths "
                          f"{', '.join(f'{p}: {len(v)}' for p, v in grids)}.")
    combos = list(zip(*[v for _, v in grids]))
  else:
    combos = list(itertools.product(*[v for _, v in grids]))
  width = len(str(len(combos)))
  trials = []
  for i, combo in enumerate(combos):
    values = dict(zip(params, combo))
    label = "-".join(short_value(p, v) for p, v in values.items())
    label = re.sub(r"[^\w.=+-]+", "_", label)[:80]
    trials.append((f"{i:0{width}d}-{label}", values))
  return trials


def _check_distinct(grids, zipped):
  """Two trials with the same values would train the same model twice (and share a name
  but for its number). Values are compared as the binding writes them: 0.1 and 0.10 are one."""
  for param, values in grids:
    written = [format_value(v) for v in values]
    repeated = next((w for w in written if written.count(w) > 1), None)
    if repeated is not None and not zipped:
      raise FinetuneError(f"Grid {param} = {values!r} gives {repeated} more than once, so two "
                          "trials would be the same; give each value once.")
  if zipped:
    combos = [tuple(format_value(v) for v in combo) for combo in zip(*[v for _, v in grids])]
    same = next((i for i, c in enumerate(combos) if combos.index(c) != i), None)
    if same is not None:
      shown = ", ".join(f"{p}={w}" for (p, _), w in zip(grids, combos[same]))
      raise FinetuneError(f"Zipped trials {combos.index(combos[same])} and {same} are the same "
                          f"({shown}); give each combination once.")


def trial_command(gin_files, gin_bindings, values, model_dir, threads):
  """The command line that runs one trial."""
  command = [sys.executable, "-m", "finetune.train", f"--model_dir={model_dir}"]
  command += [f"--gin_file={f}" for f in gin_files]
  bindings = []
  if threads:  # first, so that the user's own thread settings win
    bindings += [f"run_config.intra_op_threads = {threads}", "run_config.inter_op_threads = 1"]
  bindings += list(gin_bindings) + [f"{p} = {format_value(v)}" for p, v in values.items()]
  return command + [f"--gin_bindings={b}" for b in bindings]
