"""A small pretrained TF1 Hub format module for 8x8 digit images, built the TF Hub way.

The module maps `pixels` ([batch, 64] floats in 0..16) to a feature vector. It has:
  * two graph variants: {"train"} (batch norm in training mode, dropout on) and set()
    (inference: moving averages, no dropout), sharing one set of variables;
  * two signatures: "default" (outputs "default": the feature vector, "hidden": the
    normalized hidden layer) and "classifier" (output "default": logits over the digits 0-9);
  * L2 regularizers on its kernels, which land in REGULARIZATION_LOSSES when it is
    instantiated with trainable=True, so that fine-tuning keeps regularizing it.

`pretrain_and_export` trains it to read digits (examples/pretrain.py) and exports it.
Copy this file to author a module of your own.
"""

import tensorflow as tf
import tensorflow_hub as hub

from examples import pretrain

NUM_PIXELS = 64
PRETRAIN_CLASSES = 10


def module_fn(is_training, hidden_units=64, feature_dim=32, dropout=0.2, l2=1e-4):
  """Builds one graph variant of the module; hub calls it once per tag set."""
  layers = tf.compat.v1.layers
  regularizer = tf.keras.regularizers.l2(l2) if l2 else None
  pixels = tf.compat.v1.placeholder(tf.float32, [None, NUM_PIXELS], name="pixels")
  net = pixels / 16.0
  net = layers.dense(net, hidden_units, kernel_regularizer=regularizer, name="hidden")
  net = layers.batch_normalization(net, training=is_training, name="hidden_bn")
  hidden = tf.nn.relu(net)
  net = layers.dropout(hidden, rate=dropout, training=is_training)
  features = layers.dense(net,
                          feature_dim,
                          activation=tf.nn.relu,
                          kernel_regularizer=regularizer,
                          name="features")
  logits = layers.dense(features, PRETRAIN_CLASSES, name="classifier")
  hub.add_signature("default",
                    inputs={"pixels": pixels},
                    outputs={
                        "default": features,
                        "hidden": hidden
                    })
  hub.add_signature("classifier", inputs={"pixels": pixels}, outputs={"default": logits})


def make_spec(**module_kwargs):
  """The module spec with a {"train"} variant and the default (serving) variant."""
  return hub.create_module_spec(module_fn,
                                tags_and_args=[({"train"}, dict(is_training=True, **module_kwargs)),
                                               (set(), dict(is_training=False, **module_kwargs))],
                                drop_collections=["sonnet"])


def pretrain_and_export(export_dir,
                        pixels,
                        labels,
                        steps=1500,
                        batch_size=64,
                        learning_rate=0.01,
                        seed=0,
                        **module_kwargs):
  """Trains the module to read digits with its "classifier" signature and exports it.

  With steps=0 the module is exported untrained (the "from scratch" baseline).

  Returns:
    The training-set accuracy of the exported weights (serving variant).
  """
  return pretrain.pretrain_and_export(make_spec(**module_kwargs),
                                      export_dir,
                                      "pixels",
                                      pixels,
                                      labels,
                                      "classifier",
                                      steps=steps,
                                      batch_size=batch_size,
                                      learning_rate=learning_rate,
                                      seed=seed)
