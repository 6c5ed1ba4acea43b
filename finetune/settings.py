"""The run's settings in three small gin objects, passed to `experiment` by reference:

    experiment.training = @training()        how long and how to train
    experiment.evaluation = @evaluation()    how to evaluate and what to export
    training.early_stopping = @early_stopping()   optional

Each checks its own values when gin builds it, so a wrong type or range is one clear error
before anything is built or written.
"""

from typing import Optional, Sequence, Union

import gin

from finetune import checks
from finetune.errors import FinetuneError
from finetune.training.optimization import Optimization


@gin.configurable("early_stopping")
class EarlyStopping:
  """Stop training when an eval metric has stopped improving.

  Args:
    metric: the eval metric to watch (e.g. "accuracy", "loss").
    higher_is_better: direction of the metric.
    patience_steps: stop when the metric has not improved for this many global steps.
    check_every_steps: how often (in steps) the hook reads the evaluations.
  """

  def __init__(self,
               metric: str = gin.REQUIRED,
               higher_is_better: bool = True,
               patience_steps: int = 1000,
               check_every_steps: int = 100):
    if not isinstance(metric, str) or not metric:
      raise FinetuneError(f"early_stopping.metric must be an eval metric name, got {metric!r}.")
    self.metric = metric
    self.higher_is_better = checks.boolean(higher_is_better, "early_stopping.higher_is_better")
    self.patience_steps = checks.positive_int(patience_steps, "early_stopping.patience_steps")
    self.check_every_steps = checks.positive_int(check_every_steps,
                                                 "early_stopping.check_every_steps")


@gin.configurable("training")
class Training:
  """How long and how the model trains.

  Args:
    train_steps: global step at which training stops (a resumed run continues to it).
    optimization: an Optimization (`@optimization()`): optimizer, rates, freezing, clipping.
    steps_per_run: training steps per session.run, in an in-graph loop that trains exactly as
      single steps do (training/train_loop.py). Hooks then see one run per K steps.
    early_stopping: an EarlyStopping (`@early_stopping()`), or None.
    warm_start_from: a checkpoint (or model_dir) to initialize matching variables from.
    warm_start_vars: regex of the variables to warm-start.
    progress_every_secs: cadence of the progress line.
  """

  def __init__(self,
               train_steps: int = gin.REQUIRED,
               optimization: Optional[Optimization] = None,
               steps_per_run: int = 1,
               early_stopping: Optional[EarlyStopping] = None,
               warm_start_from: Optional[str] = None,
               warm_start_vars: Union[str, Sequence[str]] = ".*",
               progress_every_secs: float = 10.0):
    self.train_steps = checks.positive_int(train_steps, "training.train_steps")
    self.optimization = optimization or Optimization()
    self.optimization.check(self.train_steps)
    self.steps_per_run = checks.positive_int(steps_per_run, "training.steps_per_run")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
      raise FinetuneError(f"training.early_stopping must be @early_stopping() or None, got "
                          f"{early_stopping!r}.")
    self.early_stopping = early_stopping
    self.warm_start_from = warm_start_from
    for pattern in [warm_start_vars] if isinstance(warm_start_vars, str) else warm_start_vars:
      checks.regex(pattern, "training.warm_start_vars")
    self.warm_start_vars = warm_start_vars
    self.progress_every_secs = checks.positive_number(progress_every_secs,
                                                      "training.progress_every_secs")


@gin.configurable("evaluation")
class Evaluation:
  """How the model is evaluated, and what is exported after each evaluation.

  Args:
    eval_steps: batches per evaluation (default: the whole eval set).
    throttle_secs: minimum seconds between evaluations in train_and_evaluate.
    exports_to_keep: how many timestamped hub and serving exports are kept per kind.
    best_export_metric: if set (e.g. "accuracy"), also keep export/best_hub/ with the module
      from the best evaluation by this metric.
    best_export_higher_is_better: direction of best_export_metric.
  """

  def __init__(self,
               eval_steps: Optional[int] = None,
               throttle_secs: float = 0,
               exports_to_keep: int = 3,
               best_export_metric: Optional[str] = None,
               best_export_higher_is_better: bool = True):
    self.eval_steps = checks.positive_int(eval_steps, "evaluation.eval_steps", allow_none=True)
    self.throttle_secs = checks.non_negative_number(throttle_secs, "evaluation.throttle_secs")
    self.exports_to_keep = checks.positive_int(exports_to_keep, "evaluation.exports_to_keep")
    if best_export_metric is not None and not isinstance(best_export_metric, str):
      raise FinetuneError("evaluation.best_export_metric must be an eval metric name or None, "
                          f"got {best_export_metric!r}.")
    self.best_export_metric = best_export_metric
    self.best_export_higher_is_better = checks.boolean(best_export_higher_is_better,
                                                       "evaluation.best_export_higher_is_better")

  def watched_metrics(self, early_stopping=None):
    """{setting: metric name} of every setting that names an eval metric."""
    watched = {}
    if self.best_export_metric:
      watched["evaluation.best_export_metric"] = self.best_export_metric
    if early_stopping:
      watched["early_stopping.metric"] = early_stopping.metric
    return watched
