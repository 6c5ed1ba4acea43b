"""TF2 SavedModel handles beside TF1 Hub modules: the same config fine-tunes one (weights and
batch-norm statistics move, its L2 is in the loss, resume, freeze and rate multiplier by the
`module/` names), the export reloads with hub.KerasLayer and gives the fine-tuned outputs,
inspect describes it, and what cannot work is refused by name."""

import os
import tarfile
import threading

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from finetune import api
from finetune.errors import FinetuneError
from finetune.modules import graph_ops
from finetune.modules import handles
from finetune.modules import tf2_module
from finetune.modules.hub_module import HubModule
from tests import builders
from tests import helpers
from tests import tf2_builders

SGD = [
    "optimization.optimizer = @tf.train.GradientDescentOptimizer",
    "learning_rate_schedule.base_learning_rate = 0.05", "run_config.random_seed = 3",
    "learning_rate_schedule.warmup_steps = 0", "head_network.dropout = 0.0"
]
TRAIN = tf.estimator.ModeKeys.TRAIN


@pytest.fixture(scope="module")
def tf2_handle(tmp_path_factory):
  return tf2_builders.build_tf2_module(tmp_path_factory.mktemp("tf2") / "tiny_tf2")


def original_values(handle):
  """{checkpoint name: value} of the SavedModel's variables as training starts from them."""
  with tf.Graph().as_default():
    spec = handles.load_spec(handle)
    variables = tf2_module.ordered_variables(tf2_module.load(spec, "module"))
    with tf.compat.v1.Session() as session:
      session.run([v.initializer for v in variables])
      return dict(zip([v.op.name for v in variables], session.run(variables)))


def fine_tuned_outputs(handle, checkpoint, pixels, scope="module"):
  """The original SavedModel with the checkpoint's values (from `scope`), called for
  inference."""
  with tf.Graph().as_default():
    obj = tf2_module.load(handles.load_spec(handle), scope)
    variables = tf2_module.ordered_variables(obj)
    out = obj(tf.constant(pixels), training=False)
    saver = tf.compat.v1.train.Saver(var_list={v.op.name: v for v in variables})
    with tf.compat.v1.Session() as session:
      saver.restore(session, checkpoint)
      return session.run(out)


def keras_layer_outputs(path, pixels):
  """hub.KerasLayer(path) on `pixels`, eagerly in a fresh thread, as its users load it."""
  result = {}

  def run():
    layer = hub.KerasLayer(path, trainable=True)
    result["outputs"] = layer(tf.constant(pixels), training=False).numpy()
    result["trainable"] = len(layer.trainable_variables)
    result["losses"] = [float(l) for l in layer.losses]

  thread = threading.Thread(target=run)
  thread.start()
  thread.join()
  return result


def serving_outputs(path, pixels):
  """The serving SavedModel's predict signature, loaded in a fresh graph."""
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    meta = tf.compat.v1.saved_model.load(session, ["serve"], path)
    signature = meta.signature_def["predict"]
    fetches = {k: v.name for k, v in signature.outputs.items()}
    return session.run(fetches, {signature.inputs["pixels"].name: pixels})


class StartStep(tf.estimator.SessionRunHook):
  """Records the global step each training session starts at."""

  def __init__(self):
    self.steps = []

  def after_create_session(self, session, coord):
    del coord
    self.steps.append(int(session.run(tf.compat.v1.train.get_global_step())))


def test_fine_tunes_resumes_and_exports_a_reloadable_savedmodel(tmp_path, tf2_handle):
  before = original_values(tf2_handle)
  helpers.run(tmp_path, tf2_handle, SGD, train_steps=10)
  first = helpers.checkpoint_values(str(tmp_path))
  assert first["global_step"] == 10
  hook = StartStep()
  metrics = helpers.run(tmp_path, tf2_handle, SGD, train_steps=20, train_hooks=[hook])
  assert hook.steps == [10] and metrics["global_step"] == 20  # resumed, not restarted
  after = helpers.checkpoint_values(str(tmp_path))
  for name in ("module/kernel", "module/bias", "module/gamma", "module/beta"):
    assert helpers.moved(before[name], after[name]), name
    assert helpers.moved(first[name], after[name]), name
  assert helpers.moved(before["module/moving_mean"], after["module/moving_mean"])
  assert metrics["regularization_loss"] > 0

  export = os.path.join(helpers.latest_subdir(str(tmp_path / "export" / "hub")), "tiny_tf2")
  assert os.path.exists(os.path.join(export, "saved_model.pb"))
  assert not os.path.exists(os.path.join(export, "tfhub_module.pb"))
  pixels = builders.random_pixels(6)
  reloaded = keras_layer_outputs(export, pixels)
  expected = fine_tuned_outputs(tf2_handle, tf.train.latest_checkpoint(str(tmp_path)), pixels)
  np.testing.assert_allclose(reloaded["outputs"], expected, rtol=1e-5, atol=1e-6)
  assert helpers.moved(keras_layer_outputs(tf2_handle, pixels)["outputs"], expected)
  assert reloaded["trainable"] == 4
  np.testing.assert_allclose(reloaded["losses"], [0.01 * np.sum(after["module/kernel"]**2)],
                             rtol=1e-5)
  serving = serving_outputs(helpers.latest_subdir(str(tmp_path / "export" / "serving")), pixels)
  assert serving["probabilities"].shape == (6, 5)
  np.testing.assert_allclose(serving["probabilities"].sum(axis=1), 1.0, rtol=1e-5)


def test_regularization_is_in_the_training_loss(tf2_handle):
  """The TRAIN loss is the head's loss plus the SavedModel's L2 (0.01 * |kernel|^2)."""
  from finetune.runtime.estimators import EstimatorRuntime  # pylint: disable=g-import-not-at-top
  from finetune.runtime.run_config import RunSettings  # pylint: disable=g-import-not-at-top
  from finetune.settings import Training  # pylint: disable=g-import-not-at-top
  from finetune.training import heads  # pylint: disable=g-import-not-at-top
  from finetune.training.head_network import HeadNetwork  # pylint: disable=g-import-not-at-top
  from finetune.training.model import Model  # pylint: disable=g-import-not-at-top
  model = Model(HubModule(handle=tf2_handle), heads.multi_class_head(n_classes=5),
                HeadNetwork(dropout=0.0), Training(train_steps=10),
                EstimatorRuntime(RunSettings()), batch_size=4)
  features = {"pixels": tf.constant(builders.random_pixels(4))}
  spec = model.model_fn(features, tf.constant([0, 1, 2, 3], tf.int64), TRAIN, {},
                        tf.estimator.RunConfig(model_dir=None))
  kernel = [v for v in tf.compat.v1.trainable_variables() if v.op.name == "module/kernel"][0]
  reg_losses = tf.compat.v1.losses.get_regularization_losses()
  assert any(l.name.startswith("module/") for l in reg_losses), reg_losses
  logits = tf.compat.v1.get_default_graph().get_tensor_by_name("head/logits/BiasAdd:0")
  with tf.compat.v1.Session() as session:
    session.run(tf.compat.v1.global_variables_initializer())
    total, reg, out, k = session.run([spec.loss, tf.add_n(reg_losses), logits, kernel])
  np.testing.assert_allclose(reg, 0.01 * np.sum(k**2), rtol=1e-5)
  task = np.mean(-np.log(np.exp(out)[np.arange(4), [0, 1, 2, 3]] / np.exp(out).sum(axis=1)))
  np.testing.assert_allclose(total, task + reg, rtol=1e-4)


@pytest.mark.parametrize("binding, kept, moved", [
    ("optimization.freeze_variables = ['^module/kernel$']", ["kernel"],
     ["bias", "moving_mean"]),
    ("optimization.module_learning_rate_multiplier = 0.0", ["kernel", "bias", "gamma", "beta"],
     ["moving_mean"]),
], ids=["freeze_regex", "module_rate_zero"])
def test_freeze_regex_and_module_rate_find_module_names_in_the_loop(tmp_path, tf2_handle,
                                                                      binding, kept, moved):
  """Five steps per session.run; the settings select variables by their `module/` names."""
  before = original_values(tf2_handle)
  helpers.run(tmp_path, tf2_handle, SGD + ["training.steps_per_run = 5", binding],
              train_steps=10, schedule="train")
  after = helpers.checkpoint_values(str(tmp_path))
  assert after["global_step"] == 10
  for name in kept:
    np.testing.assert_array_equal(before[f"module/{name}"], after[f"module/{name}"])
  for name in moved:
    assert helpers.moved(before[f"module/{name}"], after[f"module/{name}"]), name


def test_frozen_module_has_no_trainable_variables_or_losses(tf2_handle):
  module = HubModule(handle=tf2_handle, trainable=False)
  layer = module.instantiate(TRAIN)
  out = module.apply(layer, {"pixels": tf.constant(builders.random_pixels(2))}, TRAIN)
  assert out.shape.as_list() == [2, 8]
  assert not tf.compat.v1.trainable_variables()
  assert not tf.compat.v1.losses.get_regularization_losses()
  names = {v.op.name for v in tf.compat.v1.global_variables()}
  assert {"module/kernel", "module/moving_mean"} <= names


def test_inspect_describes_call_variables_and_losses(tf2_handle):
  described = api.inspect(tf2_handle)
  assert described["format"] == "TF2 SavedModel"
  [variant] = described["variants"]
  default = variant["signatures"]["default"]
  assert default["inputs"] == {"pixels": {"dtype": "float32", "shape": [None, 64], "sparse": False}}
  assert default["outputs"]["default"]["shape"] == [None, 8]
  assert variant["variables"] == 6 and variant["parameters"] == 64 * 8 + 8 + 4 * 8
  assert variant["regularization_losses"] == 1 and variant["outside_ops"] == []
  from finetune.modules import inspection  # pylint: disable=g-import-not-at-top
  text = inspection.format_text(described)
  assert "TF2 SavedModel" in text and "__call__" in text and "training=True" in text
  assert 'hub_module.handle = "' in described["gin"]


def test_handle_resolves_from_an_http_tarball(tmp_path, tf2_handle, monkeypatch):
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "cache"))
  tarball = str(tmp_path / "tiny_tf2.tar.gz")
  with tarfile.open(tarball, "w:gz") as tar:
    for entry in os.listdir(tf2_handle):
      tar.add(os.path.join(tf2_handle, entry), arcname=entry)
  with helpers.serve(tarball) as (url, _):
    spec = handles.load_spec(f"{url}/tiny_tf2.tar.gz")
  assert isinstance(spec, tf2_module.TF2Spec) and spec.path.startswith(str(tmp_path / "cache"))


def test_signature_can_be_used_frozen_but_not_fine_tuned(tmp_path):
  handle = tf2_builders.build_tf2_module(tmp_path / "signed", signatures=True)
  with pytest.raises(FinetuneError, match="Signature 'features' of TF2 SavedModel .* cannot be "
                     "fine-tuned"):
    HubModule(handle=handle, signature="features", output_key="features").validate(
        {"pixels": tf.TensorSpec([64], tf.float32)})
  module = HubModule(handle=handle, signature="features", output_key="features",
                     trainable=False)
  module.validate({"pixels": tf.TensorSpec([64], tf.float32)})
  out = module(features={"pixels": tf.constant(builders.random_pixels(3))}, mode=TRAIN)
  assert out.shape.as_list() == [3, 8]


@pytest.mark.parametrize("kwargs, message", [
    (dict(train_tags=["train"]), "has one graph, and training=True is passed to its __call__"),
    (dict(output_key="pooled"), "Output 'pooled' not in signature 'default'"),
])
def test_mismatch_is_one_clear_error(tf2_handle, kwargs, message):
  with pytest.raises(FinetuneError, match=message):
    HubModule(handle=tf2_handle, **kwargs).validate({"pixels": tf.TensorSpec([64], tf.float32)})


def test_tpu_runtime_refuses_tf2_handles(tmp_path, tf2_handle):
  with pytest.raises(FinetuneError, match="is a TF2 SavedModel, which tpu_runtime does not run"):
    helpers.run(tmp_path, tf2_handle, ["experiment.runtime = @tpu_runtime()"], train_steps=2)


def test_sweep_over_a_tf1_module_and_a_tf2_savedmodel(tmp_path, tf2_handle, digits_module):
  """One config, the grid's handles in both formats: each trial fine-tunes and exports its
  own format."""
  rows = api.sweep(["digits/finetune.gin"], str(tmp_path / "sweep"),
                   {"MODULE_HANDLE": [digits_module, tf2_handle]},
                   bindings=["TRAIN_STEPS = 20", "learning_rate_schedule.warmup_steps = 0"],
                   parallel=2)
  assert len(rows) == 2 and all(r["state"] == "done" for r in rows), rows
  exports = {os.path.basename(r["params"]["MODULE_HANDLE"]): r["export"] for r in rows}
  assert os.path.exists(os.path.join(exports["digits"], "tfhub_module.pb"))
  tf2_export = exports["tiny_tf2"]
  assert not os.path.exists(os.path.join(tf2_export, "tfhub_module.pb"))
  pixels = builders.random_pixels(3)
  assert keras_layer_outputs(tf2_export, pixels)["outputs"].shape == (3, 8)


def test_two_replicas_train_it(tmp_path, tf2_handle):
  """In-graph replicas call the SavedModel on each shard; its weights train once per step."""
  before = original_values(tf2_handle)
  helpers.run(tmp_path, tf2_handle, SGD + ["run_config.num_replicas = 2"], train_steps=6,
              schedule="train")
  after = helpers.checkpoint_values(str(tmp_path))
  assert after["global_step"] == 6
  assert helpers.moved(before["module/kernel"], after["module/kernel"])
  assert helpers.moved(before["module/moving_mean"], after["module/moving_mean"])


def test_regularization_acts_inside_the_training_loop(tmp_path):
  """steps_per_run > 1 copies the SavedModel's L2 into the loop: a huge L2 (each SGD step
  alone would scale the kernel by 0.2) shrinks the kernel that the same training without it
  leaves near its start. The module has no batch norm: after batch norm the task gradient
  grows as the kernel shrinks, and where the two balance depends on the batches."""
  ratios = {}
  for l2 in (0.0, 8.0):
    handle = tf2_builders.build_tf2_module(tmp_path / f"l2_{l2}", l2=l2, with_batch_norm=False)
    helpers.run(tmp_path / f"run_{l2}", handle, SGD + ["training.steps_per_run = 5"],
                train_steps=10, schedule="train")
    kernel = helpers.checkpoint_values(str(tmp_path / f"run_{l2}"))["module/kernel"]
    start = original_values(handle)["module/kernel"]
    ratios[l2] = np.linalg.norm(kernel) / np.linalg.norm(start)
  assert ratios[8.0] < 0.3 and ratios[0.0] > 0.9, ratios


@pytest.mark.parametrize("steps_per_run", [1, 5])
def test_keras_regularizers_train_inside_and_outside_the_loop(tmp_path, steps_per_run):
  """A model as Keras users publish it: Keras's own l2 regularizer computes tf.nn.l2_loss,
  whose gradient exists in Python only. Inside the training loop the restored loss function
  is called again (a copy of its call op would get C++'s SymbolicGradient: 'No gradient
  defined for op: L2Loss'), and the penalty shrinks the kernel as it should."""
  ratios = {}
  for l2 in (0.0, 8.0):
    handle = tf2_builders.build_keras_module(tmp_path / f"keras_{l2}", l2=l2,
                                             with_batch_norm=False)
    assert "L2Loss" in graph_ops.op_types(handle) or l2 == 0.0
    helpers.run(tmp_path / f"run_{l2}", handle, SGD + [f"training.steps_per_run = {steps_per_run}"],
                train_steps=10, schedule="train")
    kernel = helpers.checkpoint_values(str(tmp_path / f"run_{l2}"))["module/dense/kernel"]
    start = original_values(handle)["module/dense/kernel"]
    ratios[l2] = np.linalg.norm(kernel) / np.linalg.norm(start)
  assert ratios[8.0] < 0.3 and ratios[0.0] > 0.9, ratios


def test_graph_scan_refuses_a_savedmodel_that_writes_files(tmp_path, tf2_handle):
  """The SavedModel's function library is scanned before it is loaded; its own save and
  restore functions (in every SavedModel) are not findings."""
  assert api.inspect(tf2_handle)["variants"][0]["outside_ops"] == []
  handle = tf2_builders.build_tf2_module(tmp_path / "writer", writes_file=str(tmp_path / "x"))
  with pytest.raises(FinetuneError, match="WriteFile .* it reads or writes files.*"
                     r"hub_module.allowed_ops = \['WriteFile'\]"):
    _ = HubModule(handle=handle).spec
  assert HubModule(handle=handle, allowed_ops=["WriteFile"]).is_tf2
  found = api.inspect(handle)["variants"][0]["outside_ops"]
  assert found and {f["op"] for f in found} == {"WriteFile"}  # one per traced __call__
