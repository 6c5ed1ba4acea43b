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

import os

from finetune import logs
from finetune.api_base import RunResult
from finetune.api_base import clean
from finetune.api_base import default_model_dir
from finetune.api_base import explained
from finetune.api_base import funneled
from finetune.api_sweeps import collect
from finetune.api_sweeps import search
from finetune.api_sweeps import sweep
from finetune.errors import FinetuneError

__all__ = ["RunResult", "collect", "default_model_dir", "export_embedding", "inspect",
           "predict", "search", "sweep", "train"]


@funneled
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
    raise clean(e) from None
  except Exception as e:  # pylint: disable=broad-except
    known = explained(e, model_dir)
    if known is None:
      raise
    raise clean(known) from e
  return _run_result(model_dir, schedule, result)


@funneled
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


@funneled
def inspect(handle, verbose=False):
  """What a module offers, as `python -m finetune.inspect --format=json` prints it: a dict
  with the handle, the resolved path, every graph variant's signatures, variables and
  parameters, and a gin snippet. finetune's log lines (a download's progress) go to stderr."""
  import sys  # pylint: disable=g-import-not-at-top
  logs.configure(verbose, stream=sys.stderr)
  from finetune.modules import inspection  # pylint: disable=g-import-not-at-top
  return inspection.describe(handle)


@funneled
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
