"""Several modules in one model, and one module applied to several inputs (issue 24).

Two modules from different publishers (a TF1 Hub module and a TF2 SavedModel) train side by
side, each under its gin scope's variable scope, and each is exported, fine-tuned, into the
same timestamped folder; per-module rates and freezing reach the right variables; a module
applied to two inputs keeps one set of weights that both applications move."""

import os
import threading

import gin
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from finetune.errors import FinetuneError
from finetune.inputs.arrays import ArrayData
from finetune.modules import handles
from finetune.modules import tf2_module
from finetune.modules.hub_module import HubModule
from finetune.training import heads
from tests import builders
from tests import helpers
from tests import tf2_builders
from tests.test_tf2_modules import fine_tuned_outputs as tf2_fine_tuned

TRAIN = tf.estimator.ModeKeys.TRAIN
SGD = [
    "optimization.optimizer = @tf.train.GradientDescentOptimizer",
    "learning_rate_schedule.base_learning_rate = 0.1", "learning_rate_schedule.warmup_steps = 0",
    "run_config.random_seed = 3", "head_network.dropout = 0.0"
]
TWO = ["experiment.module = [@tf1/hub_module(), @tf2/hub_module()]"]


@pytest.fixture(scope="module")
def tf2_handle(tmp_path_factory):
  return str(tf2_builders.build_tf2_module(tmp_path_factory.mktemp("tf2") / "tiny_tf2"))


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory, digits_module, tf2_handle):
  """A TF1 Hub module and a TF2 SavedModel on the same pixels, trained 20 steps."""
  model_dir = tmp_path_factory.mktemp("mixed")
  metrics = helpers.run(model_dir, digits_module,
                        SGD + TWO + [f"tf2/hub_module.handle = '{tf2_handle}'",
                                     "evaluation.best_export_metric = 'accuracy'"],
                        train_steps=20)
  return str(model_dir), metrics


def tf1_fine_tuned(handle, checkpoint, scope, pixels):
  """The original TF1 module with a checkpoint's values from `scope`, on `pixels`."""
  with tf.Graph().as_default():
    module = hub.Module(handle, name=scope)
    out = module({"pixels": tf.constant(pixels)})
    saver = tf.compat.v1.train.Saver(var_list={v.op.name: v for v in module.variables})
    with tf.compat.v1.Session() as session:
      saver.restore(session, checkpoint)
      return session.run(out)


def keras_layer(path, pixels):
  """hub.KerasLayer(path) on `pixels`, eagerly in a fresh thread, as its users load it."""
  result = {}
  thread = threading.Thread(target=lambda: result.update(
      out=hub.KerasLayer(path)(tf.constant(pixels), training=False).numpy()))
  thread.start()
  thread.join()
  return result["out"]


def test_two_modules_train_side_by_side_each_in_its_scope(mixed_run, digits_module, tf2_handle):
  model_dir, metrics = mixed_run
  assert metrics["global_step"] == 20 and metrics["regularization_loss"] > 0
  values = helpers.checkpoint_values(model_dir)
  assert not [n for n in values if n.startswith("module/")]
  assert helpers.moved(helpers.module_values(digits_module)["hidden/kernel"],
                       values["tf1/hidden/kernel"])
  with tf.Graph().as_default():
    variables = tf2_module.ordered_variables(tf2_module.load(handles.load_spec(tf2_handle), "tf2"))
    with tf.compat.v1.Session() as session:
      session.run([v.initializer for v in variables])
      before = dict(zip([v.op.name for v in variables], session.run(variables)))
  assert helpers.moved(before["tf2/kernel"], values["tf2/kernel"])


@pytest.mark.parametrize("folder", ["hub", "best_hub"])
def test_each_module_is_exported_fine_tuned_into_one_folder(mixed_run, digits_module, tf2_handle,
                                                            folder):
  model_dir, _ = mixed_run
  export = helpers.latest_subdir(os.path.join(model_dir, "export", folder))
  assert sorted(e for e in os.listdir(export) if e != "eval_result.json") == ["digits", "tiny_tf2"]
  checkpoint = tf.train.latest_checkpoint(model_dir)
  pixels = builders.random_pixels(4)
  np.testing.assert_allclose(helpers.module_outputs(os.path.join(export, "digits"), pixels),
                             tf1_fine_tuned(digits_module, checkpoint, "tf1", pixels),
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(keras_layer(os.path.join(export, "tiny_tf2"), pixels),
                             tf2_fine_tuned(tf2_handle, checkpoint, pixels, scope="tf2"),
                             rtol=1e-5, atol=1e-6)


def test_serving_model_takes_the_raw_features_of_both(mixed_run):
  model_dir, _ = mixed_run
  path = helpers.latest_subdir(os.path.join(model_dir, "export", "serving"))
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    signature = tf.compat.v1.saved_model.load(session, ["serve"], path).signature_def["predict"]
    assert set(signature.inputs) == {"pixels"}
    probabilities = session.run(signature.outputs["probabilities"].name,
                                {signature.inputs["pixels"].name: builders.random_pixels(3)})
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_predict_and_warm_start_from_a_two_module_model_dir(mixed_run, digits_module, tmp_path,
                                                            tf2_handle):
  model_dir, _ = mixed_run
  bindings = SGD + TWO + [f"tf2/hub_module.handle = '{tf2_handle}'"]
  predictions = helpers.run(model_dir, digits_module, bindings, train_steps=20,
                            schedule="predict")
  with open(predictions) as f:
    assert len(f.readlines()) == 100  # the eval set
  gin.clear_config(clear_constants=False)
  # Warm-started with both modules held still: the new run starts from the old run's weights.
  warm = tmp_path / "warm"
  helpers.run(warm, digits_module, bindings + [
      f"training.warm_start_from = '{model_dir}'",
      "optimization.module_learning_rate_multiplier = 0.0"], train_steps=2, schedule="train")
  old, new = helpers.checkpoint_values(model_dir), helpers.checkpoint_values(str(warm))
  for name in ("tf1/hidden/kernel", "tf2/kernel"):
    np.testing.assert_array_equal(old[name], new[name])


def test_per_module_rate_and_freezing_reach_their_own_variables(tmp_path, digits_module,
                                                                unregularized_module):
  """Two TF1 modules (hub's own exporter writes both): one held still by its rate
  multiplier, one with a frozen bias; the export is each module's fine-tuned values."""
  helpers.run(tmp_path, digits_module, SGD + [
      "experiment.module = [@a/hub_module(), @b/hub_module()]",
      f"b/hub_module.handle = '{unregularized_module}'",
      "a/hub_module.learning_rate_multiplier = 0.0",
      "b/hub_module.freeze_variables = ['^hidden/bias$']"], train_steps=10)
  values = helpers.checkpoint_values(str(tmp_path))
  a_before, b_before = (helpers.module_values(digits_module),
                        helpers.module_values(unregularized_module))
  np.testing.assert_array_equal(a_before["hidden/kernel"], values["a/hidden/kernel"])
  np.testing.assert_array_equal(b_before["hidden/bias"], values["b/hidden/bias"])
  assert helpers.moved(b_before["hidden/kernel"], values["b/hidden/kernel"])
  export = helpers.latest_subdir(str(tmp_path / "export" / "hub"))
  assert sorted(os.listdir(export)) == ["digits", "digits_no_l2"]
  np.testing.assert_allclose(helpers.module_values(os.path.join(export, "digits_no_l2"))[
      "hidden/kernel"], values["b/hidden/kernel"])


def pair_arrays():
  """Two digits per example; the label: whether they are the same digit."""
  (train, train_labels), (eval_, eval_labels) = builders.finetune_arrays(n_train=80, n_eval=60)
  def pairs(pixels, labels, shift):
    other = np.roll(np.arange(len(labels)), shift)
    other[::2] = np.arange(len(labels))[::2]  # half the pairs are an example with itself
    return {"a": pixels, "b": pixels[other]}, (labels == labels[other]).astype(np.int64)
  return pairs(train["pixels"], train_labels, 1), pairs(eval_["pixels"], eval_labels, 3)


def test_one_module_on_two_inputs_keeps_one_set_of_weights(digits_module):
  module = HubModule(handle=digits_module, input_mapping=[{"pixels": "a"}, {"pixels": "b"}],
                     combine="pair")
  (features, _), _ = pair_arrays()
  with tf.Graph().as_default():
    output = module.apply(module.instantiate(TRAIN),
                          {k: tf.constant(v[:4]) for k, v in features.items()}, TRAIN)
    variables = tf.compat.v1.trainable_variables()
    assert sorted(v.op.name for v in variables) == sorted(
        f"module/{n}" for n in helpers.module_values(digits_module)
        if "moving" not in n)  # one set: no module_1/
    width = output.shape[-1] // 4
    assert output.shape[-1] == 4 * width  # [u, v, |u - v|, u * v]
    kernel = [v for v in variables if v.op.name == "module/hidden/kernel"][0]
    first, = tf.gradients(tf.reduce_sum(output[:, :width]), [kernel])
    second, = tf.gradients(tf.reduce_sum(output[:, width:2 * width]), [kernel])
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      first, second = session.run([first, second])
  assert np.abs(first).sum() > 0 and np.abs(second).sum() > 0
  assert not np.allclose(first, second)  # each from its own input


def test_pair_task_trains_and_exports_the_one_shared_module(tmp_path, digits_module):
  train, eval_ = pair_arrays()
  metrics = helpers.run(tmp_path, digits_module, SGD + [
      "hub_module.input_mapping = [{'pixels': 'a'}, {'pixels': 'b'}]",
      "hub_module.combine = 'pair'"],
                        train_steps=20,
                        data=ArrayData(train=train, eval=eval_, batch_size=16, seed=1),
                        head=heads.binary_class_head())
  assert metrics["global_step"] == 20
  values = helpers.checkpoint_values(str(tmp_path))
  assert not [n for n in values if n.startswith("module_1/")]
  assert helpers.moved(helpers.module_values(digits_module)["hidden/kernel"],
                       values["module/hidden/kernel"])
  export = helpers.latest_subdir(str(tmp_path / "export" / "hub"))
  assert os.listdir(export) == ["digits"]


@pytest.mark.parametrize("bindings, message", [
    (["experiment.module = [@a/hub_module(), @b/hub_module()]"],
     r"a/hub_module and b/hub_module have the same export_name 'digits'; set "
     r"b/hub_module.export_name"),
    (["experiment.module = [@a/hub_module(), @a/hub_module()]"],
     r"experiment.module lists a/hub_module\(\) twice"),
    (["experiment.module = [@a/hub_module(), @b/hub_module()]", "b/hub_module.export_name = 'x'",
      "b/hub_module.signature = 'nope'"],
     r"Signature 'nope' not in module .* Set b/hub_module.signature to one of those"),
    (["experiment.module = [@a/hub_module(), @b/hub_module()]", "b/hub_module.export_name = 'x'",
      "b/hub_module.name = 'a'"],
     r"a/hub_module and b/hub_module have the same variable scope \(name\) 'a'"),
    (["experiment.module = [@a/hub_module(), @b/hub_module()]", "b/hub_module.export_name = 'x'",
      "b/hub_module.trainable = 'no'"], r"b/hub_module.trainable must be True or False"),
    (["hub_module.input_mapping = [{'pixels': 'pixels'}, {'pixels': 'a'}, "
      "{'pixels': 'b'}]", "hub_module.combine = 'pair'"],
     r"hub_module.combine = 'pair' compares exactly two applications .* gives 3"),
    (["hub_module.input_mapping = []"], r"hub_module.input_mapping = \[\] applies the module to "
                                        r"nothing"),
    (["hub_module.combine = 'sum'"], r"hub_module.combine = 'sum' is unknown; use one of: "
                                     r"concat, pair"),
    (["experiment.module = []"], r"experiment.module must be @hub_module\(\) or a list of them"),
    (["experiment.module = [@a/hub_module(), @b/hub_module()]", "b/hub_module.export_name = 'x'",
      "b/hub_module.freeze_variables = ['^nothing$']"],
     r"b/hub_module.freeze_variables pattern '\^nothing\$' matches no trainable variable"),
])
def test_mistakes_with_several_modules_are_one_line_naming_the_module(tmp_path, digits_module,
                                                                       bindings, message):
  with pytest.raises(FinetuneError, match=message):
    helpers.run(tmp_path, digits_module, bindings, train_steps=2, schedule="check")
  assert not os.path.exists(tmp_path / "checkpoint")


@pytest.mark.parametrize("runtime", [
    ["experiment.runtime = @tpu_runtime()", "tpu_runtime.use_tpu = False",
     "tpu_runtime.iterations_per_loop = 5"],
    ["run_config.num_replicas = 2"],
])
def test_two_modules_on_the_tpu_path_and_on_replicas(tmp_path, digits_module,
                                                     unregularized_module, runtime):
  """The TPU path on the CPU exports both modules from the checkpoint; in-graph replicas keep
  each module's one set of variables."""
  metrics = helpers.run(tmp_path, digits_module, SGD + runtime + [
      "experiment.module = [@a/hub_module(), @b/hub_module()]",
      f"b/hub_module.handle = '{unregularized_module}'"], train_steps=10)
  assert metrics["global_step"] == 10
  values = helpers.checkpoint_values(str(tmp_path))
  assert not [n for n in values if n.startswith(("module/", "a_1/", "b_1/"))]
  export = helpers.latest_subdir(str(tmp_path / "export" / "hub"))
  assert sorted(os.listdir(export)) == ["digits", "digits_no_l2"]
  for name, scope in (("digits", "a"), ("digits_no_l2", "b")):
    np.testing.assert_allclose(helpers.module_values(os.path.join(export, name))["hidden/kernel"],
                               values[f"{scope}/hidden/kernel"])


def test_tpu_runtime_refuses_a_tf2_module_among_several_by_its_scope(tmp_path, digits_module,
                                                                     tf2_handle):
  with pytest.raises(FinetuneError, match=r"^tf2/hub_module \('.*tiny_tf2'\): Module .* is a TF2 "
                                          r"SavedModel, which tpu_runtime does not run"):
    helpers.run(tmp_path, digits_module, TWO + [
        f"tf2/hub_module.handle = '{tf2_handle}'", "experiment.runtime = @tpu_runtime()",
        "tpu_runtime.use_tpu = False"], train_steps=2, schedule="check")


def few_pairs(path, rows=40):
  """The first rows of the shipped held-out pairs: an evaluation that costs little."""
  with open(os.path.join(helpers.REPO, "examples", "bert", "data", "pairs_eval.csv")) as f:
    path.write_text("".join(f.readlines()[:rows + 1]))
  return str(path)


def test_bert_module_on_two_texts_tokenized_separately_shares_its_weights(tmp_path, bert_module):
  from finetune import api  # pylint: disable=g-import-not-at-top
  import tensorflow_text  # pylint: disable=g-import-not-at-top,unused-import  (serving ops)
  result = api.train(["text/bert_pairs.gin"], [
      f"MODULE_HANDLE = '{bert_module}'", "TRAIN_STEPS = 6", "MAX_SEQ_LENGTH = 24",
      "learning_rate_schedule.warmup_steps = 0", "bert_tokenization.separately = True",
      "hub_module.combine = 'pair'", "csv_data.eval_batch_size = 64",
      "hub_module.output_key = 'sequence_output'", "hub_module.pooling = 'mean'",
      f"csv_data.eval_files = '{few_pairs(tmp_path / 'eval.csv')}'"
  ], model_dir=str(tmp_path / "model"))
  assert result.metrics["global_step"] == 6
  values = helpers.checkpoint_values(str(tmp_path / "model"))
  assert not [n for n in values if n.startswith("module_1/")]
  before = helpers.module_values(bert_module)
  assert any(helpers.moved(before[k], values[f"module/{k}"]) for k in before)
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    signature = tf.compat.v1.saved_model.load(session, ["serve"],
                                              result.exports["serving"]).signature_def["predict"]
    assert set(signature.inputs) == {"sentence1", "sentence2"}
    feed = lambda a, b: {signature.inputs["sentence1"].name: a, signature.inputs["sentence2"].name: b}
    name = signature.outputs["probabilities"].name
    texts = ["Return the cosine of x.", "Send a message over a socket."]
    probabilities = session.run(name, feed(texts, texts[::-1]))
  assert probabilities.shape == (2, 2) and not np.allclose(probabilities[0], probabilities[1])
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_separate_tokenization_encodes_each_text_as_its_own_sequence(bert_module):
  from finetune.inputs.tokenization import BertTokenization  # pylint: disable=g-import-not-at-top
  module = HubModule(handle=bert_module, signature="tokens")
  pair = BertTokenization(text_columns=["a", "b"], max_seq_length=12, separately=True)
  alone = BertTokenization(text_columns=["b"], max_seq_length=12)
  for tokenization in (pair, alone):
    tokenization.adapt_to_module(module)
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    texts = {k: tf.constant(v) for k, v in {"a": ["Return the sine of x."],
                                             "b": ["Send a message over a socket."]}.items()}
    separate, single = session.run([pair(texts), alone({"b": texts["b"]})])
  assert set(separate) == {f"{c}_{n}" for c in "ab"
                           for n in ("input_ids", "input_mask", "segment_ids")}
  for name in ("input_ids", "input_mask", "segment_ids"):
    np.testing.assert_array_equal(separate[f"b_{name}"], single[name])
  assert not separate["a_segment_ids"].any() and not np.array_equal(separate["a_input_ids"],
                                                                     separate["b_input_ids"])


def write_pairs_tfrecord(path, files, captions):
  """Two digit images and a caption per example; the label: whether both are even."""
  with tf.io.TFRecordWriter(str(path)) as writer:
    for i, ((first, a), (second, b)) in enumerate(zip(files, files[1:] + files[:1])):
      feature = lambda data: tf.train.Feature(bytes_list=tf.train.BytesList(value=[data]))
      writer.write(tf.train.Example(features=tf.train.Features(feature={
          "image_a": feature(open(first, "rb").read()),
          "image_b": feature(open(second, "rb").read()),
          "caption": feature(captions[i % len(captions)].encode()),
          "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(a == b == 0)])),
      })).SerializeToString())


def test_image_module_on_two_images_beside_a_text_module(tmp_path, image_example, text_module):
  from finetune.inputs import base as data_lib  # pylint: disable=g-import-not-at-top
  from finetune.inputs.image_folder import ImageFolderData  # pylint: disable=g-import-not-at-top
  from finetune.inputs.tfrecord_data import TFRecordData  # pylint: disable=g-import-not-at-top
  folder = ImageFolderData(train_dir=image_example["parity_train"],
                           eval_dir=image_example["parity_eval"])
  captions = ["Return the sine of x.", "Open a file for reading."]
  write_pairs_tfrecord(tmp_path / "train.tfrecord", folder.files(data_lib.TRAIN)[:60], captions)
  eval_files = folder.files(data_lib.EVAL)[:20]
  write_pairs_tfrecord(tmp_path / "eval.tfrecord", eval_files, captions)
  source = TFRecordData(train_files=str(tmp_path / "train.tfrecord"),
                        eval_files=str(tmp_path / "eval.tfrecord"),
                        feature_spec={"image_a": ("image", []), "image_b": ("image", []),
                                      "caption": ("string", [])},
                        label_key="label", batch_size=8)
  model_dir = tmp_path / "model"
  metrics = helpers.run(model_dir, image_example["image_feature_vector"], SGD + [
      "experiment.module = [@image/hub_module(), @text/hub_module()]",
      "image/hub_module.input_mapping = [{'images': 'image_a'}, {'images': 'image_b'}]",
      f"text/hub_module.handle = '{text_module}'",
      "text/hub_module.input_mapping = {'default': 'caption'}"],
                        train_steps=5, data=source, head=heads.binary_class_head())
  assert metrics["global_step"] == 5 and source.image_size == [32, 32]
  export = helpers.latest_subdir(str(model_dir / "export" / "hub"))
  assert sorted(os.listdir(export)) == sorted(
      [os.path.basename(image_example["image_feature_vector"]), "docstring_embedding"])
  serving = helpers.latest_subdir(str(model_dir / "export" / "serving"))
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    signature = tf.compat.v1.saved_model.load(session, ["serve"], serving).signature_def["predict"]
    assert set(signature.inputs) == {"image_a_bytes", "image_b_bytes", "caption"}
    images = [open(p, "rb").read() for p, _ in eval_files[:2]]
    probabilities = session.run(signature.outputs["probabilities"].name, {
        signature.inputs["image_a_bytes"].name: images,
        signature.inputs["image_b_bytes"].name: images[::-1],
        signature.inputs["caption"].name: captions})
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_sweep_over_one_modules_handle_by_its_scoped_name_mixing_tf1_and_tf2(
    tmp_path, digits_module, tf2_handle):
  helpers.run_sweep(
      "--gin_file=digits/finetune.gin", f"--sweep_dir={tmp_path}",
      f"--gin_bindings=MODULE_HANDLE = '{digits_module}'", "--gin_bindings=TRAIN_STEPS = 10",
      "--gin_bindings=experiment.module = [@a/hub_module(), @b/hub_module()]",
      "--gin_bindings=b/hub_module.export_name = 'b'",
      "--gin_bindings=learning_rate_schedule.warmup_steps = 0",
      f"--grid=b/hub_module.handle={[digits_module, tf2_handle]!r}")
  rows = helpers.sweep_results(tmp_path)
  assert len(rows) == 2 and all(r["state"] == "done" for r in rows), rows
  formats = set()
  for row in rows:
    trial = os.path.join(str(tmp_path), "trials", row["trial"])
    export = row["export"]
    assert os.path.dirname(export) == os.path.join(trial, "export", "hub")
    assert sorted(os.listdir(export)) == ["b", "digits"]
    formats.add(os.path.exists(os.path.join(export, "b", "tfhub_module.pb")))
    with open(os.path.join(trial, "operative_config.gin")) as f:
      assert "b/hub_module.handle" in f.read()
  assert formats == {True, False}  # b was a TF1 module in one trial, a TF2 SavedModel in the other


def test_each_modules_graph_is_scanned_and_a_refusal_names_its_scope(tmp_path, digits_module):
  writer = str(tf2_builders.build_tf2_module(tmp_path / "writer",
                                             writes_file=str(tmp_path / "written")))
  with pytest.raises(FinetuneError, match=r"b/hub_module.allowed_ops = \[.*WriteFile.*\]"):
    helpers.run(tmp_path / "model", digits_module, [
        "experiment.module = [@a/hub_module(), @b/hub_module()]",
        f"b/hub_module.handle = '{writer}'"], train_steps=2, schedule="check")
  assert not (tmp_path / "model").exists()


def test_the_modules_in_another_order_are_refused_on_the_trained_model_dir(mixed_run,
                                                                            digits_module,
                                                                            tf2_handle):
  """A checkpoint restores by name: swapped modules would restore and feed the head's weights
  the other module's features."""
  model_dir, _ = mixed_run
  before = sorted(os.listdir(model_dir))
  with pytest.raises(FinetuneError, match=r"was trained with the modules \[tf1; tf2\] .* this "
                                          r"config has \[tf2; tf1\]"):
    helpers.run(model_dir, digits_module, SGD + [
        "experiment.module = [@tf2/hub_module(), @tf1/hub_module()]",
        f"tf2/hub_module.handle = '{tf2_handle}'"], train_steps=20, schedule="evaluate")
  assert sorted(os.listdir(model_dir)) == before


@pytest.mark.parametrize("bindings, message", [
    (["experiment.module = [@head/hub_module(), @b/hub_module()]",
      "b/hub_module.export_name = 'b'"],
     r"head/hub_module has the variable scope \(name\) 'head', which finetune uses for its own"),
    (["hub_module.trainable = False", "hub_module.freeze_variables = ['x']"],
     r"hub_module.freeze_variables = \['x'\] has no effect: the module is not trained"),
    (["experiment.module = [@_x/hub_module(), @b/hub_module()]", "b/hub_module.export_name = 'b'"],
     r"The gin scope '_x' of _x/hub_module cannot be its variable scope .* set "
     r"_x/hub_module.name"),
    (["hub_module.export_name = 'eval_result.json'"], r"is the name of the file a best export "
                                                      r"keeps beside its modules"),
    (["hub_module.input_mapping = [{'pixels': 'pixels'}, {'pixels': 'pixels'}]"],
     r"lists \{'pixels': 'pixels'\} twice"),
    (["experiment.module = [@a/hub_module(), @b/hub_module()]", "b/hub_module.export_name = 'b'",
      "b/hub_module.learning_rate_multiplier = '0.1'"],
     r"^b/hub_module.learning_rate_multiplier must be a number >= 0, got '0.1'"),
])
def test_what_the_review_found(tmp_path, digits_module, bindings, message):
  with pytest.raises(FinetuneError, match=message):
    helpers.run(tmp_path, digits_module, bindings, train_steps=2, schedule="check")


def test_warm_start_from_other_module_scopes_is_refused_before_training(mixed_run, tmp_path,
                                                                        digits_module):
  model_dir, _ = mixed_run  # its modules are tf1/ and tf2/
  with pytest.raises(FinetuneError, match=r"has no variable 'module/\w+/\w+' \(its variables are "
                                          r"under global_step, head, tf1, tf2\): a module's "
                                          r"variable scope is its hub_module.name \(.* e.g. "
                                          r"hub_module.name = 'tf1'\)"):
    helpers.run(tmp_path / "warm", digits_module,
                [f"training.warm_start_from = '{model_dir}'"], train_steps=2, schedule="train")
  assert not (tmp_path / "warm").exists()
