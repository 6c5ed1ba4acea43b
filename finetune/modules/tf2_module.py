"""TF2 SavedModels as the trunk of the model, beside TF1 Hub modules.

A handle whose folder holds saved_model.pb without tfhub_module.pb is a TF2 SavedModel. It is
loaded with `hub.load` inside the model_fn (graph mode) and called through `hub.KerasLayer`,
which the Estimator knows nothing about, so this file does what hub.Module does for TF1:
  * variables are created under the name scope `module/` (the same checkpoint names, learning-
    rate multiplier and freeze regexes as a TF1 module) and put into GLOBAL_VARIABLES (so they
    are initialized from the SavedModel and checkpointed) and, when trainable, into
    TRAINABLE_VARIABLES;
  * the SavedModel's `regularization_losses` go into REGULARIZATION_LOSSES when trainable;
  * `training=True` is passed to `__call__` in TRAIN mode (batch-norm statistics update inside
    the call, so there are no UPDATE_OPS).

`TF2Spec` describes the SavedModel in hub.ModuleSpec's vocabulary (tags, signatures, input and
output infos), so HubModule validates both formats with the same code: the `__call__` function
is the signature "default" (a single output is named "default"), the SavedModel's serving
signatures keep their names, and there is one graph variant, the empty tag set.
"""

import tensorflow as tf
import tensorflow_hub as hub

from finetune.errors import FinetuneError

DEFAULT = "default"


class TensorInfo:
  """What hub's ParsedTensorInfo offers: dtype, get_shape(), is_sparse."""

  def __init__(self, dtype, shape):
    self.dtype = tf.as_dtype(dtype)
    self._shape = tf.TensorShape(shape)
    self.is_sparse = False

  def get_shape(self):
    return self._shape


class TF2Spec:
  """A TF2 SavedModel described like a hub.ModuleSpec (read once, in a scratch graph).

  Attributes:
    path: the resolved directory.
    signatures: {name: {"inputs": {name: TensorInfo}, "outputs": {...}, "dict_input": bool}}.
    variables: [(name, shape, trainable)] in the order checkpoints and exports use.
    regularization_losses: how many `regularization_losses` functions it has.
    takes_training: whether `__call__` has a `training` argument.
  """

  def __init__(self, path, signatures, variables, regularization_losses, takes_training):
    self.path = path
    self.signatures = signatures
    self.variables = variables
    self.regularization_losses = regularization_losses
    self.takes_training = takes_training

  def get_tags(self):
    return [frozenset()]

  def get_signature_names(self, tags=None):
    del tags
    return list(self.signatures)

  def get_input_info_dict(self, signature=None, tags=None):
    del tags
    return dict(self.signatures[signature or DEFAULT]["inputs"])

  def get_output_info_dict(self, signature=None, tags=None):
    del tags
    return dict(self.signatures[signature or DEFAULT]["outputs"])

  def get_attached_message(self, key, message_type, tags=None, required=False):
    """TF2 SavedModels carry no hub attachments (such as an image size)."""
    del key, message_type, tags, required
    return None


def is_tf2_saved_model(path):
  """True if `path` holds saved_model.pb but no tfhub_module.pb."""
  join = lambda name: tf.io.gfile.exists(f"{str(path).rstrip('/')}/{name}")
  return join("saved_model.pb") and not join("tfhub_module.pb")


def ordered_variables(obj):
  """The SavedModel's variables, trainable ones first (hub.KerasLayer's order); every load of
  the same SavedModel lists them in the same order, which is how exports find them."""
  trainable = list(getattr(obj, "trainable_variables", []))
  ids = {id(v) for v in trainable}
  return trainable + [v for v in getattr(obj, "variables", []) if id(v) not in ids]


def _infos(structure, default_name, named=True):
  """({name: TensorInfo}, whether it is a dict) of a TensorSpec, tensor or dict of them; a
  lone tensor is named by its spec's name (inputs) or `default_name`."""
  if isinstance(structure, dict):
    return {k: TensorInfo(v.dtype, v.shape) for k, v in structure.items()}, True
  if hasattr(structure, "dtype") and hasattr(structure, "shape"):
    name = (getattr(structure, "name", None) if named else None) or default_name
    return {name: TensorInfo(structure.dtype, structure.shape)}, False
  return None, False


def _call_signature(handle, call):
  concrete = call.concrete_functions[0]
  args, kwargs = concrete.structured_input_signature
  inputs, dict_input = _infos(args[0] if args else None, "inputs")
  outputs, _ = _infos(concrete.structured_outputs, DEFAULT, named=False)
  if inputs is None or outputs is None:
    raise FinetuneError(
        f"The __call__ of TF2 SavedModel '{handle}' takes or returns a nested structure; "
        "finetune calls a TF2 SavedModel with one tensor or a dict of tensors and reads one "
        "tensor or a dict of tensors back.")
  takes_training = len(args) > 1 or "training" in kwargs
  info = {"inputs": inputs, "outputs": outputs, "dict_input": dict_input, "call": True}
  return info, takes_training


def read_spec(handle, path):
  """Loads the SavedModel at `path` in a scratch graph (nothing is run, no variable is read)
  and describes it as a TF2Spec.

  Raises:
    FinetuneError: if it has neither a `__call__` nor signatures to call.
  """
  with tf.Graph().as_default():
    obj = hub.load(path)
    signatures, takes_training = {}, False
    call = getattr(obj, "__call__", None)
    if getattr(call, "concrete_functions", None):
      signatures[DEFAULT], takes_training = _call_signature(handle, call)
    for name, function in getattr(obj, "signatures", {}).items():
      if name != DEFAULT or DEFAULT not in signatures:
        signatures[name] = {
            "inputs": _infos(function.structured_input_signature[1], "inputs")[0],
            "outputs": _infos(function.structured_outputs, DEFAULT, named=False)[0],
            "dict_input": True,
            "call": False,
        }
    if not signatures:
      raise FinetuneError(f"TF2 SavedModel '{handle}' has neither a __call__ function nor "
                          "signatures, so there is nothing to fine-tune; export it with a "
                          "tf.function __call__ (a reusable SavedModel).")
    trainable_ids = {id(v) for v in getattr(obj, "trainable_variables", [])}
    variables = [(v.name.split(":")[0], v.shape.as_list(), id(v) in trainable_ids)
                 for v in ordered_variables(obj)]
    losses = len(getattr(obj, "regularization_losses", []))
  return TF2Spec(path, signatures, variables, losses, takes_training)


def load(spec, name):
  """Loads the SavedModel into the current graph under the name scope `name`/ and returns
  the loaded object (variables initialized from the SavedModel by their initializers)."""
  with tf.compat.v1.variable_scope(name, auxiliary_name_scope=False):
    with tf.name_scope(name + "/"):
      return hub.load(spec.path)


def _add_missing(key, variables):
  present = {id(v) for v in tf.compat.v1.get_collection(key)}
  for variable in variables:
    if id(variable) not in present:
      tf.compat.v1.add_to_collection(key, variable)


def loss_functions(graph):
  """{regularization loss tensor's name: the restored function that computed it} in `graph`.

  The training loop calls the function again inside its loop (train_loop.rebuilder): a copy
  of the call op made there by import_graph_def would get TensorFlow's C++ SymbolicGradient,
  which lacks gradients that exist only in Python, such as L2Loss's (Keras's
  tf.keras.regularizers.l2). Kept on the graph object, not in a graph collection: the
  checkpoint's meta graph cannot hold Python functions.
  """
  if not hasattr(graph, "finetune_tf2_loss_functions"):
    graph.finetune_tf2_loss_functions = {}
  return graph.finetune_tf2_loss_functions


def instantiate(spec, signature, trainable, name):
  """A hub.KerasLayer on the SavedModel, its state in the graph collections (see above)."""
  obj = load(spec, name)
  if spec.signatures[signature]["call"]:
    layer = hub.KerasLayer(obj, trainable=trainable)
  else:
    layer = hub.KerasLayer(obj, trainable=False, signature=signature,
                           signature_outputs_as_dict=True)
  _add_missing(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES, ordered_variables(obj))
  if trainable:
    _add_missing(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES,
                 getattr(obj, "trainable_variables", []))
    with tf.name_scope(name + "/regularization/"):
      # What hub.KerasLayer.losses does, one function at a time, to remember each one.
      for function in getattr(obj, "regularization_losses", []):
        loss = function()
        tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES, loss)
        loss_functions(tf.compat.v1.get_default_graph())[loss.name] = function
  return layer


def call(spec, layer, signature, inputs, training):
  """Calls the layer on {input name: tensor}; returns {output key: tensor}."""
  info = spec.signatures[signature]
  if not info["dict_input"]:
    inputs = inputs[next(iter(info["inputs"]))]
  outputs = layer(inputs, training=training) if info["call"] else layer(inputs)
  return outputs if isinstance(outputs, dict) else {next(iter(info["outputs"])): outputs}


def check_trainable(handle, spec, signature, trainable):
  """hub.KerasLayer fine-tunes only `__call__`: a serving signature is frozen."""
  if trainable and signature in spec.signatures and not spec.signatures[signature]["call"]:
    raise FinetuneError(
        f"Signature '{signature}' of TF2 SavedModel '{handle}' cannot be fine-tuned "
        "(hub.KerasLayer trains only the SavedModel's __call__, the signature \"default\"); "
        "set hub_module.signature = \"default\", or hub_module.trainable = False to use it "
        "frozen.")
