"""Search spaces: `--space='LEARNING_RATE=loguniform(1e-4, 1e-1)'` into Optuna distributions.

The forms are `loguniform(low, high)`, `uniform(low, high)`, `int(low, high)` and
`choice([v1, v2, ...])`, for any gin parameter or macro (as a grid's, trials/grid.py). They
are read with Python's parser, never evaluated, and every mistake is one line that names the
bad part and shows the right form, before any trial starts.
"""

import ast
import math
import re

from optuna import distributions

from finetune.errors import FinetuneError

FORMS = {
    "loguniform": "loguniform(1e-4, 1e-1)",
    "uniform": "uniform(0.0, 0.5)",
    "int": "int(1, 8)",
    "choice": "choice(['a', 'b'])"
}


def _fail(text, problem, form=None):
  """One line: what is wrong with `text`, and the right form (all of them if unknown)."""
  name = (text.split("=", 1)[0].strip() if "=" in text else "") or "PARAM"
  shown = [FORMS[form]] if form in FORMS else list(FORMS.values())
  raise FinetuneError(f"Search space '{text}' {problem}; write " +
                      " or ".join(f"{name}={f}" for f in shown) +
                      " (strings quoted, references as \"@name\").")


def _numbers(text, call, kind):
  args = [ast.literal_eval(a) for a in call.args]
  if len(args) != 2 or call.keywords:
    _fail(text, f"gives {call.func.id} {len(args)} values; it takes two, low and high",
          call.func.id)
  low, high = args
  wanted = (int,) if kind is int else (int, float)
  if any(isinstance(v, bool) or not isinstance(v, wanted) for v in args):
    _fail(text, f"gives {call.func.id} {low!r} and {high!r}; both must be "
          f"{'integers' if kind is int else 'numbers'}", call.func.id)
  if not all(math.isfinite(v) for v in args):
    _fail(text, f"gives {call.func.id} {low!r} and {high!r}; both must be finite numbers",
          call.func.id)
  if not low < high:
    _fail(text, f"has low {low!r} not below high {high!r}", call.func.id)
  return low, high


def _choice(text, call):
  if len(call.args) != 1 or call.keywords:
    _fail(text, "gives choice more than one argument; it takes one list", "choice")
  values = ast.literal_eval(call.args[0])
  if not isinstance(values, (list, tuple)) or not values:
    _fail(text, "gives choice no list of values", "choice")
  for value in values:
    if value is not None and not isinstance(value, (bool, int, float, str)):
      _fail(text, f"has choice value {value!r}, which is not a number, string, bool or None",
            "choice")
  if len(set(map(repr, values))) < len(values):
    _fail(text, "repeats a choice value", "choice")
  return distributions.CategoricalDistribution(list(values))


def parse_space(text):
  """'PARAM=form(...)' -> (PARAM, an Optuna distribution)."""
  match = re.match(r"^\s*([\w./%]+)\s*=\s*(.+?)\s*$", text, re.S)
  if not match:
    _fail(text, "is not PARAM=form(...)")
  name = match.group(1)
  try:
    call = ast.parse(match.group(2), mode="eval").body
  except SyntaxError:
    _fail(text, f"has {match.group(2)!r}, which does not parse")
  if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
    _fail(text, f"has {match.group(2)!r}, which is not one of the forms")
  form = call.func.id
  try:
    if form == "choice":
      return name, _choice(text, call)
    if form == "int":
      return name, distributions.IntDistribution(*_numbers(text, call, int))
    if form in ("uniform", "loguniform"):
      low, high = _numbers(text, call, float)
      if form == "loguniform" and low <= 0:
        _fail(text, f"has loguniform low {low!r}; a log scale needs low > 0", form)
      return name, distributions.FloatDistribution(float(low), float(high),
                                                   log=form == "loguniform")
  except (ValueError, SyntaxError):  # a value that is not a literal
    _fail(text, f"has values that are not literals in {match.group(2)!r}", form)
  _fail(text, f"uses {form}(...), which is not a form")
  return None  # not reached


def plan_space(texts):
  """[(PARAM, distribution)] of the --space flags; a parameter given twice is refused."""
  space = [parse_space(t) for t in texts]
  names = [n for n, _ in space]
  twice = sorted({n for n in names if names.count(n) > 1})
  if twice:
    raise FinetuneError(f"{', '.join(twice)} is in the search space more than once; give it "
                        "one --space.")
  return space


def corners(space):
  """A few value sets that reach every choice and both ends of every range: what the sweep
  parses before any trial starts, so that a misspelled parameter fails now."""
  count = max([len(d.choices) for _, d in space if hasattr(d, "choices")] + [2])
  sets = []
  for i in range(count):
    values = {}
    for name, dist in space:
      if isinstance(dist, distributions.CategoricalDistribution):
        values[name] = dist.choices[i % len(dist.choices)]
      else:
        values[name] = dist.low if i % 2 == 0 else dist.high
    sets.append(values)
  return sets
