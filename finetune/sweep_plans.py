"""What a sweep asks for, checked before any trial starts: every trial's config parsed once
(grid and search sweeps alike), a search's settings, the trials that reach every corner of
its space, and what the base config decides (the metric, its direction, the steps between
evaluations). It sits above config.py: it reads configs, which the trials package may not.
A search's parts import Optuna (the `search` extra), so only search functions import them."""

import gin

from finetune import config
from finetune import settings as settings_lib
from finetune.errors import FinetuneError
from finetune.trials import grid as grid_lib


def check_trial_configs(gin_files, bindings, planned, allow_gin_imports=False):
  """Parses every trial's config here, once, before any trial starts: a misspelled parameter
  in a grid is one error now, not a failure in every trial."""
  for name, values in planned:
    trial_bindings = [f"{p} = {grid_lib.format_value(v)}" for p, v in values.items()]
    try:
      config.parse(gin_files, list(bindings) + trial_bindings, allow_imports=allow_gin_imports)
    except FinetuneError as e:
      raise FinetuneError(f"Trial {name} of the sweep cannot be configured: {e}") from None


def bindings(values):
  return [f"{p} = {grid_lib.format_value(v)}" for p, v in values.items()]


def settings(search, space, grid, trials, pruner, startup_trials):
  """The search asked for, checked: one line for each mistake, before anything runs."""
  from finetune.trials import space as space_lib  # pylint: disable=g-import-not-at-top
  from finetune.trials import study as study_lib  # pylint: disable=g-import-not-at-top
  if search not in study_lib.SEARCHES:
    raise FinetuneError(f"--search={search} is not a search; use one of "
                        f"{', '.join(study_lib.SEARCHES)}.")
  if pruner not in study_lib.PRUNERS:
    raise FinetuneError(f"--pruner={pruner} is not a pruner; use one of "
                        f"{', '.join(study_lib.PRUNERS)}.")
  space = space_lib.plan_space(list(space))
  grid = list(grid.items()) if isinstance(grid, dict) else list(grid or ())
  if search == "grid":
    if space or not grid:
      raise FinetuneError("--search=grid searches the --grid values alone: give --grid="
                          "'PARAM=[v1, v2]' and no --space (or --search=tpe with --space).")
    size = study_lib.grid_size(grid)
    trials = size if trials is None else trials
    if trials > size:
      raise FinetuneError(f"--trials={trials} is more than the grid's {size} points; pass "
                          f"--trials={size} or fewer.")
  elif grid or not space:
    raise FinetuneError(f"--search={search} samples the --space ranges"
                        f"{'' if space else ' (none given)'}; write a grid as "
                        "--space=\"PARAM=choice([v1, v2])\", or use --search=grid.")
  if trials is None or trials < 1:
    raise FinetuneError(f"--trials is the study's total number of trials: 1 or more, got "
                        f"{trials}.")
  if startup_trials is not None and startup_trials < 0:
    raise FinetuneError(f"--startup_trials must be 0 or more, got {startup_trials}.")
  return study_lib.SearchSettings(search=search, space=space, grid=grid, trials=trials,
                                  pruner=pruner, startup_trials=startup_trials)


def check_trials(settings):
  """[(label, values)] that reach every choice and both ends of every range."""
  from finetune.trials import space as space_lib  # pylint: disable=g-import-not-at-top
  if settings.search == "grid":
    return grid_lib.plan(settings.grid)
  sets = space_lib.corners(settings.space)
  return [("with " + ", ".join(f"{p} = {grid_lib.format_value(v)}" for p, v in s.items()), s)
          for s in sets]


def fill_defaults(settings, gin_files, bindings, metric, higher_is_better, allow_imports):
  """Fills in what the config decides: the metric and its direction (evaluation's
  best_export_metric), the steps between evaluations and a trial's train steps."""
  config.parse(gin_files, bindings, allow_imports=allow_imports)
  evaluation = settings_lib.Evaluation()
  settings.metric = metric or evaluation.best_export_metric or "accuracy"
  if higher_is_better is None:
    if evaluation.best_export_metric == settings.metric:
      higher_is_better = evaluation.best_export_higher_is_better
    else:  # a loss or an error rate is minimized; maximizing it would rank the worst first
      higher_is_better = not any(w in settings.metric for w in ("loss", "error"))
  settings.higher_is_better = higher_is_better

  def bound(name):
    try:
      value = gin.query_parameter(name)
      while isinstance(value, gin.config.ConfigurableReference):
        value = gin.query_parameter(str(value))  # a macro: %NAME
      return value if isinstance(value, int) else None
    except ValueError:
      return None

  settings.eval_every_steps = bound("run_config.save_checkpoints_steps") or 1
  settings.train_steps = bound("training.train_steps")
  gin.clear_config(clear_constants=False)
