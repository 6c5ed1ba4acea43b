"""One run's pieces, checked together and assembled: the module, data, head, settings and
runtime as gin built them, the Estimator, its input_fns, hooks and exporters.

`Job.validate` checks everything that can be checked without training, before the model_dir
is touched; `schedules.py` runs a schedule on a validated Job.
"""

import gin.tf
import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.inputs.base import DataSource, TRAIN
from finetune.outputs import config_history
from finetune.outputs import exporters
from finetune.prediction.settings import PredictRequest
from finetune.prediction.settings import Prediction
from finetune.runtime import cluster
from finetune.runtime import preemption
from finetune.runtime import preflight
from finetune.runtime import rollback
from finetune.runtime.base import Runtime
from finetune.training import heads
from finetune.training import replicas
from finetune.training import train_loop
from finetune.training.model import Model

SCHEDULES = ("train_and_evaluate", "train", "evaluate", "export", "predict", "check")


class Job:
  """Everything a schedule needs; built by experiment.run from gin's objects."""

  def __init__(self, model_dir, module, data, head, head_network, training, evaluation,
               runtime, prediction=None, request=None):
    self.model_dir = model_dir
    self.data = data
    self.evaluation = evaluation
    self.prediction = prediction or Prediction()  # a batch prediction's output columns
    self.request = request or PredictRequest()  # a predict run's files, output, checkpoint
    self.unlabelled = None  # the files a batch prediction reads, once checked
    # The model's pieces live in the Model (it builds the spec from them); the job reads them
    # there. Its batch size, for the progress line, is known once the data source is checked.
    self.model = Model(module, head, head_network, training, runtime, batch_size=None)
    self.role = cluster.Role.from_environment()  # this process in a TF_CONFIG cluster
    self.stop = None  # the run's process.signals.StopSignal, set by experiment.run
    self.trained = rollback.TrainedMarker()  # whether a training step of this run completed
    self._estimator = None

  module = property(lambda self: self.model.module)
  head = property(lambda self: self.model.head)
  head_network = property(lambda self: self.model.head_network)
  training = property(lambda self: self.model.training)
  runtime = property(lambda self: self.model.runtime)

  def validate(self, schedule):
    """Raises FinetuneError for the first thing that cannot work; writes nothing."""
    if schedule not in SCHEDULES:
      raise FinetuneError(f"Unknown schedule '{schedule}'; use one of: {', '.join(SCHEDULES)}.")
    if not isinstance(self.data, DataSource):
      raise FinetuneError(f"experiment.data must be a data source such as @csv_data(), "
                          f"@tfrecord_data() or @image_folder_data(); got {self.data!r}.")
    heads.check_head(self.head)
    if not isinstance(self.runtime, Runtime):
      raise FinetuneError(f"experiment.runtime must be a runtime such as @estimator_runtime() "
                          f"or @tpu_runtime(); got {self.runtime!r}.")
    self._check_metric_names()
    self.request.check(schedule)
    if not isinstance(self.prediction, Prediction):
      raise FinetuneError(f"experiment.prediction must be @prediction(), got {self.prediction!r}.")
    if schedule == "predict" and self.request.files:
      self.head.check_prediction(self.prediction)
    self.runtime.check(schedule, self.training)
    replicas.check_batch(self.data.batch_size, self.runtime.replicas)
    modules = self.module
    modules.each(lambda m: self.runtime.check_paths(self.model_dir, m))
    self.data.adapt_to_modules(modules)
    self.head.check_setup(modules, self.data, self.runtime)
    modules.validate(self.data.feature_specs(), per_position_head=self.head.per_position)
    modules.each(self.runtime.check_module)
    self.data.check_not_empty()
    self.model.batch_size = self.data.batch_size
    self._check_warm_start()

  def _check_warm_start(self):
    """training.warm_start_from names a checkpoint, or a model_dir that holds one: a path to
    nothing would fail inside the Estimator after the model_dir was set up."""
    source = self.training.warm_start_from
    if not source:
      return
    found = (tf.train.latest_checkpoint(source) if tf.io.gfile.isdir(source) else
             source if tf.io.gfile.exists(f"{source}.index") else None)
    if found is None:
      raise FinetuneError(f"training.warm_start_from = '{source}' is neither a checkpoint nor a "
                          "model_dir that holds one; give e.g. 'runs/old' or "
                          "'runs/old/model.ckpt-600'.")
    preflight.check_warm_start(found, self.training.warm_start_vars, self.model.model_fn,
                               self.data.feature_specs())

  def _check_metric_names(self):
    """Metric names in settings (best export, early stopping) exist: a typo would otherwise
    surface after training, or never."""
    known = self.head.metric_names()
    for setting, name in self.evaluation.watched_metrics(self.training.early_stopping).items():
      if name not in known:
        raise FinetuneError(f"{setting} = '{name}' is not an eval metric of this head; its "
                            f"metrics are: {', '.join(sorted(known))}.")

  @property
  def estimator(self):
    if self._estimator is None:
      warm_start = None
      if self.training.warm_start_from:
        warm_start = tf.estimator.WarmStartSettings(
            ckpt_to_initialize_from=self.training.warm_start_from,
            vars_to_warm_start=self.training.warm_start_vars)
      self._estimator = self.runtime.make_estimator(self.model_dir, self.model.model_fn, self.data,
                                                    warm_start, self.module.has_sparse_lookups())
    return self._estimator

  def input_fn(self, split, training=None):
    return self.runtime.input_fn(self.data, split, training=training)

  def train_input_fn(self):
    if self.training.steps_per_run > 1:
      return train_loop.iterator_input_fn(self.data, TRAIN)
    return self.input_fn(TRAIN)

  def train_hooks(self, extra_hooks=()):
    """Pre-emption, the operative config (chief), early stopping, and the caller's hooks."""
    stop = [preemption.StopHook(self.stop, self.training.train_steps,
                                self.training.steps_per_run)] if self.stop else []
    hooks = [self.trained] + stop
    if self.role.is_chief:
      # After the graph is built, so it holds every value the run used; also in TensorBoard.
      hooks.append(config_history.ConfigHistoryHook(self.model_dir))
      hooks.append(gin.tf.GinConfigSaverHook(self.model_dir, include_step_in_filename=False))
    early = self.training.early_stopping
    if early:
      stop_if = (tf.estimator.experimental.stop_if_no_increase_hook if early.higher_is_better
                 else tf.estimator.experimental.stop_if_no_decrease_hook)
      hooks.append(
          stop_if(self.estimator, early.metric, early.patience_steps, run_every_secs=None,
                  run_every_steps=early.check_every_steps))
    return hooks + list(extra_hooks)

  def find_data_problem(self):
    """The first bad record of the data, described (after the graph failed on a batch)."""
    if self.unlabelled is not None:  # a batch prediction reads these, not the data's splits
      return self.unlabelled.find_problem()
    tokenization = self.data.tokenization
    text_column = tokenization.text_columns[0] if tokenization else None
    return self.data.find_problem(lambda label, record: self.head.label_problem(
        label, record.get(text_column) if text_column else None))

  def serving_fn(self):
    return self.data.serving_input_receiver_fn()

  def final_exporters(self):
    return exporters.final_exporters(self.runtime, self.module, self.serving_fn(),
                                     self.evaluation.exports_to_keep)

  def exporters(self):
    """After each evaluation. In a TF_CONFIG cluster, metrics and the best module (by the
    evaluator): the chief exports hub/ and serving/ once training is done."""
    make = (exporters.evaluator_exporters if self.role.in_cluster else
            exporters.default_exporters)
    return make(self.model_dir, self.runtime, self.module, self.serving_fn(), self.evaluation)

  def global_step(self):
    return int(self.estimator.get_variable_value("global_step"))

  def preempted(self):
    return bool(self.stop and self.stop.requested.is_set())
