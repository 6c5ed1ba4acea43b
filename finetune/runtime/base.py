"""What every runtime offers: the interface the job, the model and the exporters use.

A runtime is what differs between the places a run can go (this host's devices or a
TF_CONFIG cluster: estimators.py; TPUEstimator: tpu.py); the model_fn, the schedules and the
exports are the same everywhere. A new runtime subclasses `Runtime`, implements the abstract
methods, says what it cannot honour in the `check*` methods, and registers itself with gin
(registry.py imports it).
"""

import abc


class Runtime(abc.ABC):
  """Builds the Estimator and adapts input_fns, EstimatorSpecs, the head's dtype, the optimizer
  and the module exporter to where the run goes.

  Attributes:
    name: the gin name (`experiment.runtime = @<name>()`), for messages.
    run_config: a RunSettings (`@run_config()`).
    host_hooks: training hooks run on this host between steps.
    per_position_heads: heads with one output per word (token tagging) can run here.
  """

  name = None
  host_hooks = True
  per_position_heads = True

  def __init__(self, run_config):
    self.run_config = run_config

  @property
  def replicas(self):
    """How many in-graph replicas train (run_config.num_replicas)."""
    return self.run_config.num_replicas

  def check(self, schedule, training):
    """Refuses, by name, a schedule or training setting this runtime cannot honour."""

  def check_module(self, module):
    """Refuses, by name, a module this runtime cannot run."""

  def check_paths(self, model_dir, module):
    """Refuses, by name, a model_dir or module location this runtime cannot reach (before the
    module is fetched)."""

  @abc.abstractmethod
  def make_estimator(self, model_dir, model_fn, data, warm_start=None, sparse_lookups=False):
    """The Estimator for `model_fn` (`sparse_lookups`: the module has sparse embedding
    lookups; see RunSettings.session_config)."""

  @abc.abstractmethod
  def input_fn(self, data, split, training=None, drop_remainder=False):
    """`data`'s input_fn for `split`, in the form this runtime's Estimator calls."""

  @abc.abstractmethod
  def create_spec(self, head, **kwargs):
    """The head's EstimatorSpec (or TPUEstimatorSpec)."""

  def build_head(self, build, inputs):
    """Calls build(inputs) -> logits (a runtime may change the dtype around it)."""
    return build(inputs)

  def wrap_optimizer(self, optimizer):
    return optimizer

  @abc.abstractmethod
  def hub_exporter(self, name, modules, serving_fn, exports_to_keep):
    """The tf.estimator.Exporter that writes the fine-tuned modules (a ModuleSet) under
    export/<name>/<timestamp>/<export name>/."""
