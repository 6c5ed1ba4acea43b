"""The Python face of finetune, for notebooks and scripts; the commands are thin wrappers.

    from finetune import api
    result = api.train(["digits/finetune.gin"], ["TRAIN_STEPS = 100"], model_dir="runs/d")
    result.metrics["accuracy"], result.exports["hub"]
    api.inspect("build/modules/digits_pretrained")["variants"]
    api.sweep(["digits/finetune.gin"], "runs/sweep", {"LEARNING_RATE": [0.003, 0.01]})

Every function raises `FinetuneError` (one readable message) for a mistake in the config, data
or module, and `errors.UnexpectedError` (a FinetuneError, its cause attached) for anything
else; none exits, and each can be called again in the same process: gin is cleared and parsed
afresh at each call.
"""

import dataclasses
import functools
import os
from typing import Optional

from finetune import logs
from finetune.errors import FinetuneError
from finetune.errors import UnexpectedError


@dataclasses.dataclass
class RunResult:
  """What a run left: its final metrics and where its outputs are.

  Attributes:
    model_dir: the run's directory.
    schedule: what ran.
    metrics: the final eval metrics (train_and_evaluate, evaluate), else None.
    exports: {"hub": module dir, "best_hub": module dir, "serving": SavedModel dir}, the
      newest of each kind that exists; with several modules, "hub" and "best_hub" are the
      timestamped folder that holds one folder per module (its export_name).
    predictions: the predictions file (predict), else None.
    graph: (check) {"variables", "trainable_variables", "parameters"} of the training graph.
  """
  model_dir: str
  schedule: str
  metrics: Optional[dict]
  exports: dict
  predictions: Optional[str]
  graph: Optional[dict] = None


def _funneled(function):
  """Whatever escapes an API call is a FinetuneError: a known mistake as it is, anything else
  as UnexpectedError, with the original exception as its cause."""

  @functools.wraps(function)
  def call(*args, **kwargs):
    try:
      return function(*args, **kwargs)
    except FinetuneError:
      raise
    except Exception as e:  # pylint: disable=broad-except  (the funnel)
      raise UnexpectedError(e) from e

  return call


def default_model_dir(gin_files):
  """runs/<name of the last gin file>, the command's default."""
  if not gin_files:
    return None
  return os.path.join("runs", os.path.splitext(os.path.basename(list(gin_files)[-1]))[0])


def _clean(error):
  """The same error without the "In call to configurable ..." lines gin appends to errors
  raised inside configurables (gin wraps the exception's type to add them)."""
  from finetune.errors import Preempted, without_gin_context  # pylint: disable=g-import-not-at-top
  if isinstance(error, Preempted):
    return Preempted(without_gin_context(error), exit_code=error.exit_code)
  return FinetuneError(without_gin_context(error))


def _explained(error, model_dir):
  """A FinetuneError for `error` if it is a known gin or TensorFlow failure, else None."""
  from finetune import config  # pylint: disable=g-import-not-at-top
  from finetune.runtime import diagnosis  # pylint: disable=g-import-not-at-top
  explained = diagnosis.explain(error, model_dir)
  if explained is None and "Required bindings for" in str(error):
    explained = FinetuneError(config.explain_gin_error(error))
  return explained


@_funneled
def train(gin_files=(), bindings=(), model_dir=None, schedule="train_and_evaluate", hooks=(),
          command_line=None, verbose=False, module=None, data=None, head=None,
          head_network=None, training=None, evaluation=None, runtime=None,
          allow_gin_imports=False, predict_files=None, predict_output=None, checkpoint=None):
  """Runs a schedule from gin configs, as `python -m finetune.train` does; from Python, any
  of the run's pieces can be passed as an object instead (numpy arrays as
  `data=ArrayData(...)`, a head built in the notebook), with the same checks and errors.

  Args:
    gin_files: config files (short names of shipped configs, or paths); later ones override.
      None or empty: MODEL_DIR/operative_config.gin.
    bindings: gin bindings, e.g. ["TRAIN_STEPS = 100"]; they override the files.
    model_dir: the run's directory (default: runs/<name of the last gin file>).
    schedule: train_and_evaluate, train, evaluate, export, predict, or check (every check a
      training makes and its graph built once; nothing is written).
    hooks, verbose: extra SessionRunHooks for training; keep TensorFlow's logs.
    command_line: recorded in MODEL_DIR/command_lines.txt (the command passes its argv).
    module, data, head, head_network, training, evaluation, runtime: the run's pieces as
      objects (`HubModule`, a `DataSource` such as `ArrayData`, a head from
      training/heads.py, ...); each one given replaces what the configs build for it.
    allow_gin_imports: let the configs' `import` lines import modules other than finetune's
      (importing runs the module's code; docs/security.md).
    predict_files, predict_output, checkpoint: the predict schedule's files (a path, glob
      pattern, folder of images or a list of them), output file (.jsonl or .csv; default
      MODEL_DIR/predictions.jsonl) and checkpoint ("latest", "best" or a path); see predict.

  Returns:
    A RunResult.

  Raises:
    FinetuneError: the config, data or module is wrong (nothing in model_dir changed), or
      Preempted (one) after SIGTERM or SIGINT in training, with the checkpoint saved.
    errors.Interrupted: (not an Exception, like KeyboardInterrupt) a signal outside training
      steps, or a second one; only while a command's or experiment.run's StopSignal is on.
  """
  logs.configure(verbose)
  from finetune import config, experiment  # pylint: disable=g-import-not-at-top
  from finetune.prediction.settings import PredictRequest  # pylint: disable=g-import-not-at-top
  model_dir = _model_dir(model_dir, gin_files)
  pieces = dict(module=module, data=data, head=head, head_network=head_network,
                training=training, evaluation=evaluation, runtime=runtime)
  given = {name: piece for name, piece in pieces.items() if piece is not None}
  try:
    config.parse(gin_files, bindings, model_dir, allow_imports=allow_gin_imports)
    config.replace_pieces(given)
    request = PredictRequest(files=_patterns(predict_files), output=_path(predict_output),
                             checkpoint=_path(checkpoint))
    result = experiment.run(model_dir, schedule, hooks=hooks, command_line=command_line,
                            request=request, **given)
  except FinetuneError as e:
    raise _clean(e) from None
  except Exception as e:  # pylint: disable=broad-except
    explained = _explained(e, model_dir)
    if explained is None:
      raise
    raise _clean(explained) from e
  return _run_result(model_dir, schedule, result)


@_funneled
def predict(model_dir, files, output=None, checkpoint=None, bindings=(), gin_files=(),
            verbose=False):
  """Predictions for files the model has never seen, as `--schedule=predict --predict_files`
  makes them: one row per input row with its "file" and "row" (and prediction.keep_columns),
  then the head's outputs in the user's terms ("class" and "probability", ...).

  Args:
    model_dir: a trained model_dir; its operative_config.gin says how to read the files.
    files: a path, glob pattern or list of them (a folder of images for image data).
    output: a .jsonl or .csv path, local or gs:// (default MODEL_DIR/predictions.jsonl).
      The training data's files must be readable too: their header and checks come from them.
    checkpoint: "latest", "best" (the default with evaluation.best_export_metric set) or a
      checkpoint path.
    bindings, gin_files: as for train, e.g. ["prediction.top_k = 3"].

  Returns:
    A RunResult whose `predictions` is the output file's path.
  """
  return train(gin_files, bindings, model_dir=model_dir, schedule="predict", verbose=verbose,
               predict_files=files, predict_output=output, checkpoint=checkpoint)


def _path(value):
  return os.fspath(value) if isinstance(value, os.PathLike) else value


def _patterns(files):
  """A path, pattern (str or os.PathLike) or a list of them, as a list of strings."""
  if files is None:
    return None
  if isinstance(files, (str, os.PathLike)):
    files = [files]
  return [_path(f) for f in files]


def _model_dir(model_dir, gin_files):
  """The run's directory: the one given, else runs/<name of the last gin file>."""
  model_dir = _path(model_dir)
  if model_dir is not None and not str(model_dir).strip():
    # An empty --model_dir= (an unset shell variable) must not resume runs/<config>.
    raise FinetuneError("model_dir is empty; pass --model_dir=DIR, or leave the flag out for "
                        "runs/<name of the last gin file>.")
  model_dir = model_dir or default_model_dir(gin_files)
  if not model_dir:
    raise FinetuneError("Pass a model_dir (--model_dir=DIR), or a gin file to name a default.")
  return model_dir


def _run_result(model_dir, schedule, result):
  """What experiment.run returned, filed under what the schedule makes."""
  from finetune.outputs import summary  # pylint: disable=g-import-not-at-top
  return RunResult(model_dir=model_dir,
                   schedule=schedule,
                   metrics=result if schedule in ("train_and_evaluate", "evaluate") else None,
                   exports=summary.latest_exports(model_dir),
                   predictions=result if schedule == "predict" else None,
                   graph=result if schedule == "check" else None)


@_funneled
def inspect(handle, verbose=False):
  """What a module offers, as `python -m finetune.inspect --format=json` prints it: a dict
  with the handle, the resolved path, every graph variant's signatures, variables and
  parameters, and a gin snippet. finetune's log lines (a download's progress) go to stderr."""
  import sys  # pylint: disable=g-import-not-at-top
  logs.configure(verbose, stream=sys.stderr)
  from finetune.modules import inspection  # pylint: disable=g-import-not-at-top
  return inspection.describe(handle)


@_funneled
def export_embedding(embedding_file, export_path, vocabulary_file=None, input_format="auto",
                     num_oov_buckets=1, num_lines_to_ignore=0, num_lines_to_use=None,
                     lowercase=True, punctuation="space", l2_regularization=0.0, l2_rows="used",
                     dropout=0.0, module_format="tf1", verbose=False):
  """Writes a file of word vectors as a text-embedding module, as `python -m
  finetune.export_embedding` does (its flags are these arguments; embeddings/ explains them).

  Returns:
    embeddings.publish.Published: the path, the format, the vocabulary size and dim.

  Raises:
    FinetuneError: a bad file, option or path; nothing is written then.
  """
  logs.configure(verbose)
  from finetune.embeddings import module_options  # pylint: disable=g-import-not-at-top
  from finetune.embeddings import publish  # pylint: disable=g-import-not-at-top
  options = module_options.ModuleOptions(num_oov_buckets=num_oov_buckets,
                                         lowercase=lowercase,
                                         punctuation=punctuation,
                                         l2_regularization=l2_regularization,
                                         l2_rows=l2_rows,
                                         dropout=dropout)
  return publish.publish(embedding_file, export_path, vocabulary_file, input_format,
                         num_lines_to_ignore, num_lines_to_use, options, module_format)


@_funneled
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


@_funneled
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


@_funneled
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
