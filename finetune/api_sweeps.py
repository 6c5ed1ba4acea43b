"""The API's sweeps: a grid sweep, collecting its results, and a search with pruning
(Optuna); re-exported by api.py, where callers find them."""

import os

from finetune import logs
from finetune.api_base import funneled
from finetune.errors import FinetuneError


@funneled
def sweep(gin_files, sweep_dir, grid, bindings=(), zipped=False, parallel=1, metric="accuracy",
          higher_is_better=True, dry_run=False, verbose=False, allow_gin_imports=False):
  """Runs a sweep (each trial a `finetune.train` process) and collects its results.

  Args:
    gin_files: the base config(s) of every trial.
    sweep_dir: where trials and results go.
    grid: {gin parameter or macro: [values]} (or a list of (parameter, values) pairs).
    bindings: bindings for every trial.
    zipped: pair the grids' values instead of taking their cross product.
    parallel: trials run at once.
    metric, higher_is_better: how trials are ranked.
    dry_run: return the trials' command lines instead of running them.
    allow_gin_imports: let the configs' `import` lines import modules other than finetune's
      (the sweep and each trial).

  Returns:
    The ranked result rows (dicts), best first; or, with dry_run, the commands.
  """
  logs.configure(verbose)
  from finetune.trials import grid as grid_lib  # pylint: disable=g-import-not-at-top
  from finetune import sweep_plans  # pylint: disable=g-import-not-at-top
  from finetune.trials import runner  # pylint: disable=g-import-not-at-top
  if not gin_files:
    raise FinetuneError("Pass the base config of every trial (--gin_file=F).")
  from finetune import files  # pylint: disable=g-import-not-at-top
  files.check_directory_or_absent(sweep_dir, "sweep_dir")
  pairs = list(grid.items()) if isinstance(grid, dict) else list(grid)
  planned = grid_lib.plan(pairs, zipped)
  sweep_plans.check_trial_configs(gin_files, bindings, planned, allow_gin_imports)
  trials = runner.Sweep(sweep_dir, gin_files, bindings, planned, parallel=parallel,
                        allow_gin_imports=allow_gin_imports)
  if dry_run:
    return trials.commands()
  trials.run()
  return collect(sweep_dir, metric, higher_is_better)


@funneled
def collect(sweep_dir, metric="accuracy", higher_is_better=True, grid=None, zipped=False):
  """Rebuilds a sweep's results from its trial directories; writes results.csv/md/png and
  returns the ranked rows.

  A trial directory needs only what a finished `finetune.train` run leaves (metrics.json,
  operative_config.gin, command_lines.txt), so trials that a scheduler ran from `--dry_run`
  lines are collected too. Given the sweep's grid (as for `sweep`), trials are named and
  their parameters read from it, and planned trials that never started are listed.
  """
  from finetune.trials import grid as grid_lib  # pylint: disable=g-import-not-at-top
  from finetune import files  # pylint: disable=g-import-not-at-top
  from finetune.trials import results  # pylint: disable=g-import-not-at-top
  files.check_directory_or_absent(sweep_dir, "sweep_dir")
  planned = None
  if grid:
    pairs = list(grid.items()) if isinstance(grid, dict) else list(grid)
    planned = grid_lib.plan(pairs, zipped)
  rows = results.collect(sweep_dir, metric, higher_is_better, planned=planned)
  results.write_results(sweep_dir, rows, metric)
  return rows


@funneled
def search(gin_files, sweep_dir, space=(), trials=None, search="tpe", grid=(), bindings=(),
           pruner="median", parallel=1, metric=None, higher_is_better=None, storage=None,
           study_name=None, startup_trials=None, verbose=False, allow_gin_imports=False):
  """Runs (or joins) a search sweep: an Optuna study whose trials are `finetune.train`
  processes, pruned after any evaluation; returns the ranked result rows as `sweep` does.

  Args:
    gin_files, sweep_dir, bindings, parallel, allow_gin_imports: as for `sweep`.
    space: ["PARAM=loguniform(1e-4, 1e-1)", ...] (trials/space.py), for tpe and random.
    trials: the study's total (default for grid: the grid's size).
    search: tpe, random, or grid (Optuna's GridSampler over `grid`).
    grid: {PARAM: [values]} (or (PARAM, values) pairs), for search="grid".
    pruner: median, halving, hyperband or none.
    metric, higher_is_better: what is reported and ranked (default: the config's
      evaluation.best_export_metric and its direction, else accuracy, higher).
    storage: an RDB URL or a journal file path (default SWEEP_DIR/study.journal).
    study_name: default: the sweep directory's name.
    startup_trials: random trials, never pruned by the median pruner, before the history
      is used (default: a quarter of the trials, 2 to 10).
  """
  logs.configure(verbose)
  from finetune import files  # pylint: disable=g-import-not-at-top
  from finetune import sweep_plans  # pylint: disable=g-import-not-at-top
  from finetune.trials import runner  # pylint: disable=g-import-not-at-top
  search_lib, study_lib = _optuna_parts()
  if not gin_files:
    raise FinetuneError("Pass the base config of every trial (--gin_file=F).")
  files.check_directory_or_absent(sweep_dir, "sweep_dir")
  settings = sweep_plans.settings(search, space, grid, trials, pruner, startup_trials)
  settings.config = (list(gin_files), list(bindings))  # a rerun with other ones is refused
  for_check = sweep_plans.check_trials(settings)
  sweep_plans.check_trial_configs(gin_files, bindings, for_check, allow_gin_imports)
  sweep_plans.fill_defaults(settings, gin_files,
                            list(bindings) + sweep_plans.bindings(for_check[0][1]), metric,
                            higher_is_better, allow_gin_imports)
  study_lib.quiet()
  study = study_lib.open_study(study_lib.open_storage(sweep_dir, storage),
                               study_name or os.path.basename(os.path.normpath(sweep_dir)),
                               settings)
  sweep_runner = runner.Sweep(sweep_dir, gin_files, bindings, [], parallel=parallel,
                              allow_gin_imports=allow_gin_imports)
  search_lib.Search(sweep_runner, study, settings).run()
  return collect(sweep_dir, settings.metric, settings.higher_is_better)


def _optuna_parts():
  """The search modules, which need Optuna (the `search` extra)."""
  try:
    import optuna  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    raise FinetuneError("Search sweeps (--search) need Optuna, which is not installed: "
                        "pip install 'finetune[search]' (or pip install 'optuna>=5,<6').") from None
  from finetune.trials import search as search_lib  # pylint: disable=g-import-not-at-top
  from finetune.trials import study as study_lib  # pylint: disable=g-import-not-at-top
  return search_lib, study_lib
