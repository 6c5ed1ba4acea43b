"""Tiny TF2 SavedModels for the tests, built in-process: a reusable SavedModel (hub's
conventions: `__call__` with a `training` argument, `variables`, `trainable_variables`,
`regularization_losses`) of one dense layer, batch norm and an L2 penalty on the kernel.

Built in a fresh thread: tf.saved_model.save needs eager execution, and the tests run inside
a graph (conftest.py).
"""

import threading

import tensorflow as tf


def _build(path, inputs, features, l2, seed, signatures, writes_file, with_batch_norm):
  tf.random.set_seed(seed)
  dense = tf.keras.layers.Dense(features, activation="relu")
  dense.build([None, inputs])
  obj = tf.train.Checkpoint()
  obj.dense = dense
  layers = [dense]
  if with_batch_norm:
    obj.batch_norm = tf.keras.layers.BatchNormalization()
    obj.batch_norm.build([None, features])
    layers.append(obj.batch_norm)
  obj.variables = [v for layer in layers for v in layer.variables]
  obj.trainable_variables = [v for layer in layers for v in layer.trainable_variables]
  obj.regularization_losses = [
      tf.function(lambda: l2 * tf.reduce_sum(tf.square(dense.kernel)), input_signature=[])
  ]

  @tf.function
  def call(pixels, training=False):
    if writes_file:  # what the graph scan must catch
      tf.io.write_file(writes_file, tf.strings.as_string(tf.reduce_sum(pixels)))
    features = dense(pixels)
    return obj.batch_norm(features, training=training) if with_batch_norm else features

  spec = tf.TensorSpec([None, inputs], tf.float32, name="pixels")
  for training in (True, False):
    call.get_concrete_function(spec, training)
  obj.__call__ = call
  serving = None
  if signatures:
    serving = {"features": tf.function(lambda pixels: {"features": call(pixels, False)},
                                       input_signature=[spec])}
  tf.saved_model.save(obj, path, signatures=serving)


def _in_fresh_thread(build, *args):
  """Runs build(*args) in a new thread (eager there, whatever the test's graph) and re-raises
  its exception here."""
  errors = []

  def run():
    try:
      build(*args)
    except Exception as e:  # pylint: disable=broad-except  (re-raised below)
      errors.append(e)

  thread = threading.Thread(target=run)
  thread.start()
  thread.join()
  if errors:
    raise errors[0]


def build_tf2_module(path, inputs=64, features=8, l2=0.01, seed=0, signatures=False,
                     writes_file=None, with_batch_norm=True):
  """Writes the SavedModel to `path` and returns `path`; `writes_file`: a path its __call__
  writes to. Without batch norm the kernel's scale matters to the output, so an L2 penalty
  shrinks it steadily (after batch norm the task gradient grows as the kernel shrinks)."""
  _in_fresh_thread(_build, str(path), inputs, features, l2, seed, signatures, writes_file,
                   with_batch_norm)
  return str(path)


def build_tf1_saved_model(path):
  """A TF1 SavedModel (simple_save; no TF2 objects), which is neither accepted format."""
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    pixels = tf.compat.v1.placeholder(tf.float32, [None, 64])
    tf.compat.v1.saved_model.simple_save(session, str(path), {"pixels": pixels},
                                         {"default": pixels * 2})
  return str(path)


def _build_keras(path, inputs, features, l2, seed, with_batch_norm):
  tf.keras.utils.set_random_seed(seed)
  pixels = tf.keras.Input(shape=(inputs,), name="pixels")
  outputs = tf.keras.layers.Dense(features, activation="relu",
                                  kernel_regularizer=tf.keras.regularizers.l2(l2),
                                  name="dense")(pixels)
  if with_batch_norm:
    outputs = tf.keras.layers.BatchNormalization(name="batch_norm")(outputs)
  model = tf.keras.Model(pixels, outputs)
  tf.saved_model.save(model, path)


def build_keras_module(path, inputs=64, features=8, l2=0.01, seed=0, with_batch_norm=True):
  """A SavedModel as Keras users publish one: a tf.keras.Model whose Dense layer has
  Keras's own L2 regularizer (tf.nn.l2_loss inside the saved loss function), saved with
  tf.saved_model.save. Returns `path`."""
  _in_fresh_thread(_build_keras, str(path), inputs, features, l2, seed, with_batch_norm)
  return str(path)
