"""What every function of the API shares: its result type and the funnel that makes whatever
escapes a call one FinetuneError (api.py, api_sweeps.py)."""

import dataclasses
import functools
import os
from typing import Optional

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


def funneled(function):
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


def clean(error):
  """The same error without the "In call to configurable ..." lines gin appends to errors
  raised inside configurables (gin wraps the exception's type to add them)."""
  from finetune.errors import Preempted, without_gin_context  # pylint: disable=g-import-not-at-top
  if isinstance(error, Preempted):
    return Preempted(without_gin_context(error), exit_code=error.exit_code)
  return FinetuneError(without_gin_context(error))


def explained(error, model_dir):
  """A FinetuneError for `error` if it is a known gin or TensorFlow failure, else None."""
  from finetune import config  # pylint: disable=g-import-not-at-top
  from finetune.runtime import diagnosis  # pylint: disable=g-import-not-at-top
  explained = diagnosis.explain(error, model_dir)
  if explained is None and "Required bindings for" in str(error):
    explained = FinetuneError(config.explain_gin_error(error))
  return explained
