"""The pretrained part of the model: which module (TF1 Hub format or TF2 SavedModel), which
signature, which graph variant.

`HubModule` is configured in gin as `hub_module` and does three things:
  * loads the module spec once (hub resolves and caches the handle, honouring TFHUB_CACHE_DIR);
  * checks the configured signature, output key, tags and input mapping against the module and
    the data before anything is trained, raising one `FinetuneError` per mismatch that lists
    what the module has instead;
  * instantiates `hub.Module(trainable=..., tags=...)` inside a model_fn with the `{"train"}`
    variant in TRAIN mode and the serving variant otherwise, always under the same name, so
    checkpoints restore across modes, and registers it for `hub.LatestModuleExporter`.
A TF2 SavedModel handle (saved_model.pb without tfhub_module.pb) goes through tf2_module.py
instead: same validation (its spec speaks ModuleSpec's vocabulary), hub.KerasLayer in the graph.

A model may hold several modules (`experiment.module = [@text/hub_module(), @image/hub_module()]`,
modules/module_set.py); a module built in a gin scope names itself by it (`text/hub_module`) in
every message, and takes the scope's name as its variable scope. One module may also be applied
to several inputs with its weights shared (`input_mapping` a list; `combine`).
"""

from typing import Mapping, Optional, Sequence, Union

import gin
import tensorflow as tf
import tensorflow_hub as hub

from finetune import checks
from finetune.errors import FinetuneError
from finetune.formatting import format_tags
from finetune.formatting import handle_short_name
from finetune.modules import combine as combine_lib
from finetune.modules import graph_ops
from finetune.modules import graph_scan
from finetune.modules import output_shapes
from finetune.modules.naming import named_errors
from finetune.modules import pooling as pooling_lib
from finetune.modules import signature_inputs
from finetune.modules import tf2_module
from finetune.modules import tokenization_info
from finetune.modules.handles import load_spec

TRAIN_TAG = "train"
# A scalar signature output under this name is a penalty that depends on the inputs (e.g. L2
# on the embedding rows a batch looks up): TF1 Hub format imports REGULARIZATION_LOSSES only
# from the input-independent state graph, so such a penalty can only travel as an output.
# A trainable module's is added to REGULARIZATION_LOSSES at every application.
REGULARIZATION_OUTPUT = "regularization_loss"
EVAL_RESULT_NAME = "eval_result.json"  # outputs/exporters.py keeps it beside the modules


@gin.configurable("hub_module")
class HubModule:
  """A TF1 Hub format module or a TF2 SavedModel as the trunk of the model.

  Args:
    handle: where the module lives: a local directory, file://, gs:// or an http(s) URL.
    signature: the module signature to call ("default" for the common signatures; for a TF2
      SavedModel "default" is its __call__, other names its serving signatures).
    output_key: the signature output fed to the head; a list of keys concatenates them.
    input_mapping: {signature input name: feature name}. Left out, inputs and features are
      matched by name, or a single input takes the single feature. A list of mappings applies
      the module once per mapping, one set of weights for all (e.g. a sentence pair).
    combine: how the outputs of several applications meet: "concat", or "pair" for two
      ([u, v, |u - v|, u * v], as InferSent and Sentence-BERT compare sentences).
    train_tags: tags of the graph variant used in TRAIN mode. Left out: {"train"} when the
      module has that variant and `trainable` is set, else the serving tags. (A TF2
      SavedModel has one graph: leave both unset; training=True goes to its __call__.)
    serving_tags: tags of the variant used to evaluate, predict and export (default: set()).
    trainable: whether the module's variables are fine-tuned (False: a frozen feature
      extractor, only the head learns).
    export_name: folder name of the fine-tuned module under export/hub/<timestamp>/.
      Left out, the last component of the handle.
    name: the variable scope of the module, fixed so that checkpoints restore across modes.
      Left out: "module" for a model's one module; with several, the last part of the module's
      gin scope (`text` for `text/hub_module`).
    allowed_handle_prefixes: if set, only handles starting with one of these are loaded
      (loading a module runs its graph; set it where configs come from several people).
    pooling: for a sequence output [batch, positions, features] (BERT's sequence_output):
      "first" (the [CLS] position), "mean" or "max" over the positions input_mask marks
      real, giving [batch, features] for a per-example head. None: the output is used as is.
    allowed_ops: op types that touch the outside (e.g. ["WriteFile"]) this module may use;
      every graph variant is scanned before the module is used (modules/graph_scan.py).
    trusted: skip that scan's refusal for this module altogether.
    learning_rate_multiplier: this module's rate relative to the head's; left out,
      optimization.module_learning_rate_multiplier (set it per module when there are several).
    freeze_variables: regexes on the module's variable names (without its scope); matching
      variables are not trained.
  """

  def __init__(self,
               handle: Optional[str] = gin.REQUIRED,
               signature: str = "default",
               output_key: str = "default",
               input_mapping: Optional[Union[Mapping[str, str], Sequence[Mapping[str, str]]]] = None,
               train_tags: Optional[Sequence[str]] = None,
               serving_tags: Sequence[str] = (),
               trainable: bool = True,
               export_name: Optional[str] = None,
               name: Optional[str] = None,
               allowed_handle_prefixes: Optional[Sequence[str]] = None,
               pooling: Optional[str] = None,
               allowed_ops: Sequence[str] = (),
               trusted: bool = False,
               combine: str = "concat",
               learning_rate_multiplier: Optional[float] = None,
               freeze_variables: Sequence[str] = ()):
    scope = gin.current_scope_str()
    self.selector = f"{scope}/hub_module" if scope else "hub_module"  # what messages call it
    with named_errors(self.selector, handle):  # a scoped module's errors name its scope
      self.handle = handle
      self.signature = signature
      self.output_key = output_key
      self.input_mappings = signature_inputs.mappings(input_mapping)
      self.combine = combine_lib.check(combine, self.input_mappings and len(self.input_mappings))
      self._train_tags = None if train_tags is None else set(train_tags)
      self.serving_tags = set(serving_tags)
      self.trainable = checks.boolean(trainable, "hub_module.trainable")
      self.export_name = checks.folder_name(export_name or handle_short_name(handle),
                                            "hub_module.export_name")
      self.name = checks.scope_name(name or "module", "hub_module.name", "module")
      self._name_given = name is not None
      self._scope = scope
      self.allowed_handle_prefixes = (None if allowed_handle_prefixes is None else
                                      list(allowed_handle_prefixes))
      self.pooling = pooling_lib.check(pooling)
      self.allowed_ops = list(allowed_ops)
      self.trusted = checks.boolean(trusted, "hub_module.trusted")
      if learning_rate_multiplier is not None:
        checks.non_negative_number(learning_rate_multiplier,
                                   "hub_module.learning_rate_multiplier")
      self.learning_rate_multiplier = learning_rate_multiplier
      self.freeze_variables = [checks.regex(p, "hub_module.freeze_variables entry")
                               for p in freeze_variables]
      for setting, value in (("freeze_variables", freeze_variables),
                             ("learning_rate_multiplier", learning_rate_multiplier)):
        if value not in (None, ()) and value != [] and not self.trainable:
          raise FinetuneError(f"hub_module.{setting} = {value!r} has no effect: the module is "
                              "not trained (hub_module.trainable = False); leave it out, or "
                              "set hub_module.trainable = True.")
      if self.export_name == EVAL_RESULT_NAME:
        raise FinetuneError(f"hub_module.export_name = {export_name!r} is the name of the file "
                            "a best export keeps beside its modules; choose another name.")
    self._spec = None

  def name_after_scope(self):
    """With several modules, an unnamed one takes its gin scope's last part as its variable
    scope, so a checkpoint says which module a variable is from."""
    if not self._name_given and self._scope:
      scope = self._scope.split("/")[-1]
      try:
        self.name = checks.scope_name(scope, "hub_module.name", "module")
      except FinetuneError:
        raise FinetuneError(f"The gin scope '{scope}' of {self.selector} cannot be its variable "
                            "scope (TensorFlow takes letters, digits, '_', '.' and '-', not "
                            f"first '_' or '-'): set {self.selector}.name, e.g. 'text'.") from None

  @property
  def spec(self):
    if self._spec is None:
      # Before anything is loaded or run: refuse ops that touch the outside.
      scan = lambda path: graph_scan.check(self.handle, graph_scan.scan(path), self.allowed_ops,
                                           self.trusted)
      self._spec = load_spec(self.handle, self.allowed_handle_prefixes, check=scan)
    return self._spec

  @property
  def is_tf2(self):
    return isinstance(self.spec, tf2_module.TF2Spec)

  @property
  def available_tags(self):
    return [set(t) for t in self.spec.get_tags()]

  @property
  def train_tags(self):
    if self._train_tags is not None:
      return self._train_tags
    if self.trainable and {TRAIN_TAG} in self.available_tags:
      return {TRAIN_TAG}
    return self.serving_tags

  def has_sparse_lookups(self):
    """Whether the module is trained and combines embedding rows with SparseSegment ops."""
    return self.trainable and graph_ops.has_sparse_lookups(hub.resolve(self.handle))

  def tags_for(self, mode):
    return self.train_tags if mode == tf.estimator.ModeKeys.TRAIN else self.serving_tags

  def output_keys(self):
    keys = self.output_key
    return [keys] if isinstance(keys, str) else list(keys)

  # --- Validation -------------------------------------------------------------------------

  def takes_tokens(self):
    """True if the signature takes BERT's input_ids, input_mask and segment_ids."""
    self._check_tags(self.serving_tags)
    self._check_signature(self.serving_tags)
    tokens = tokenization_info.takes_tokens(self.spec, self.signature, self.serving_tags)
    if tokens and self.is_tf2:
      raise FinetuneError(f"TF2 SavedModel '{self.handle}' takes BERT's input_ids, input_mask "
                          "and segment_ids; finetune tokenizes for TF1 Hub BERT modules only "
                          "(their tokenization_info): use the model's TF1 Hub version.")
    return tokens

  def propose_input_mappings(self, mappings):
    """Mappings the data proposes (one per text column a tokenizer encoded on its own),
    taken where the config sets none."""
    if self.input_mappings is None:
      self.input_mappings = [dict(m) for m in mappings]

  def input_names(self):
    return list(self.spec.get_input_info_dict(signature=self.signature, tags=self.serving_tags))

  def validate(self, feature_specs, per_position_head=False):
    """Checks tags, signature, outputs and the input mapping against the module and data.

    Args:
      feature_specs: {feature name: tf.TensorSpec of one example (no batch dimension)}.
      per_position_head: the head takes [batch, positions, features] (token tagging).

    Raises:
      FinetuneError: for the first mismatch, naming what was asked and what exists.
    """
    combine_lib.check(self.combine, len(self.input_mappings or [None]))
    for tags in (self.train_tags, self.serving_tags):
      self._check_tags(tags)
      self._check_signature(tags)
      self._check_outputs(tags, per_position_head)
      for mapping in self.input_mappings or [None]:
        self._resolve_inputs(feature_specs, tags, mapping)
    if self.is_tf2:
      tf2_module.check_trainable(self.handle, self.spec, self.signature, self.trainable)

  def _check_tags(self, tags):
    if set(tags) not in self.available_tags and self.is_tf2:
      raise FinetuneError(
          f"Tag set {format_tags(tags)} is not a graph variant of TF2 SavedModel "
          f"'{self.handle}': it has one graph, and training=True is passed to its __call__ in "
          "TRAIN mode instead. Leave hub_module.train_tags and serving_tags unset.")
    if set(tags) not in self.available_tags:
      known = ", ".join(format_tags(t) for t in self.available_tags)
      raise FinetuneError(
          f"Tag set {format_tags(tags)} is not a graph variant of module '{self.handle}'; it "
          f"has: {known}. Set hub_module.train_tags / hub_module.serving_tags to one of those.")

  def _check_signature(self, tags):
    names = self.spec.get_signature_names(tags=tags)
    if self.signature not in names:
      raise FinetuneError(f"Signature '{self.signature}' not in module '{self.handle}' (tags "
                          f"{format_tags(tags)}); it has: {', '.join(sorted(names))}. "
                          "Set hub_module.signature to one of those.")

  def _check_outputs(self, tags, per_position_head=False):
    outputs = self.spec.get_output_info_dict(signature=self.signature, tags=tags)
    for key in self.output_keys():
      if key not in outputs:
        raise FinetuneError(
            f"Output '{key}' not in signature '{self.signature}' of module '{self.handle}'; "
            f"it has: {', '.join(sorted(outputs))}. Set hub_module.output_key to one of those.")
      output_shapes.check_rank(key, outputs[key].get_shape(), self.signature, self.pooling,
                               per_position_head)

  def _resolve_inputs(self, feature_specs, tags, mapping):
    """Returns {signature input: feature name}, checked for names, dtypes and shapes."""
    inputs = self.spec.get_input_info_dict(signature=self.signature, tags=tags)
    return signature_inputs.resolve(inputs, self.signature, mapping, feature_specs)

  # --- Graph construction -----------------------------------------------------------------

  def __call__(self, features, mode):
    """Applies the module to `features` in `mode`; returns the [batch, dim] output tensor."""
    return self.apply(self.instantiate(mode), features, mode)

  def instantiate(self, mode):
    """Creates the module's variables for `mode` and registers it for the hub export."""
    if self.is_tf2:  # exported by tf2_export.TF2ModuleExporter from the checkpoint
      return tf2_module.instantiate(self.spec, self.signature, self.trainable, self.name)
    module = hub.Module(self.spec,
                        trainable=self.trainable,
                        tags=self.tags_for(mode),
                        name=self.name)
    # The exporter rebuilds the graph in PREDICT mode and exports what is registered there,
    # so registration happens in every mode.
    hub.register_module_for_export(module, self.export_name)
    return module

  def apply(self, module, features, mode):
    """Calls an instantiated module's signature once per input mapping (weights shared) and
    combines the outputs; may be called again (e.g. inside a loop)."""
    outputs = [self._apply_once(module, features, mode, mapping)
               for mapping in self.input_mappings or [None]]
    return combine_lib.combine(outputs, self.combine)

  def _apply_once(self, module, features, mode, mapping):
    feature_specs = {k: tf.TensorSpec(v.shape[1:], v.dtype) for k, v in features.items()}
    mapping = self._resolve_inputs(feature_specs, self.tags_for(mode), mapping)
    infos = self.spec.get_input_info_dict(signature=self.signature, tags=self.tags_for(mode))
    inputs = {
        name: signature_inputs.cast(features[feature], infos[name].dtype)
        for name, feature in mapping.items()
    }
    if self.is_tf2:
      outputs = tf2_module.call(self.spec, module, self.signature, inputs,
                                training=mode == tf.estimator.ModeKeys.TRAIN)
    else:
      outputs = module(inputs, signature=self.signature, as_dict=True)
      if self.trainable and REGULARIZATION_OUTPUT in outputs:
        tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES,
                                       outputs[REGULARIZATION_OUTPUT])
    tensors = [tf.cast(outputs[key], tf.float32) for key in self.output_keys()]
    output = tensors[0] if len(tensors) == 1 else tf.concat(tensors, axis=-1)
    if self.pooling:
      mask = inputs.get("input_mask")
      output = pooling_lib.pool(output, mask, self.pooling)
    return output

