"""Small image modules with the TF Hub common image signatures, built the TF Hub way.

Two kinds share one architecture and one set of variables, so one pretraining serves both:
  * "feature_vector" (image feature vector): signature "default", input "images"
    [batch, height, width, 3] float32 in [0, 1], output "default" [batch, features];
  * "classification" (image classification): signature "default" with output "default" =
    logits over the pretraining classes, plus signature "image_feature_vector".
Both declare their expected image size (32x32) with hub.attach_image_module_info, have a
{"train"} variant (batch norm in training mode, dropout) and L2 regularizers on the kernels.
"""

import tensorflow as tf
import tensorflow_hub as hub

IMAGE_SIZE = 32
NUM_CLASSES = 10


def module_fn(is_training,
              kind="feature_vector",
              filters=(8, 16),
              feature_dim=32,
              dropout=0.2,
              l2=1e-4):
  layers = tf.compat.v1.layers
  regularizer = tf.keras.regularizers.l2(l2) if l2 else None
  images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3], name="images")
  net = tf.image.resize(images, [IMAGE_SIZE, IMAGE_SIZE])
  for i, count in enumerate(filters):
    net = layers.conv2d(net,
                        count,
                        3,
                        strides=2,
                        padding="same",
                        kernel_regularizer=regularizer,
                        name=f"conv{i}")
    net = layers.batch_normalization(net, training=is_training, name=f"conv{i}_bn")
    net = tf.nn.relu(net)
  # Images are resized to 32x32 first, so the map size is known: keep where strokes are.
  net = tf.reshape(net, [-1, (IMAGE_SIZE // 2**len(filters))**2 * filters[-1]])
  net = layers.dropout(net, rate=dropout, training=is_training)
  features = layers.dense(net,
                          feature_dim,
                          activation=tf.nn.relu,
                          kernel_regularizer=regularizer,
                          name="features")
  logits = layers.dense(features, NUM_CLASSES, name="logits")
  info = hub.ImageModuleInfo()
  info.default_image_size.height = IMAGE_SIZE
  info.default_image_size.width = IMAGE_SIZE
  hub.attach_image_module_info(info)
  if kind == "feature_vector":
    hub.add_signature("default", inputs={"images": images}, outputs={"default": features})
  else:
    hub.add_signature("default", inputs={"images": images}, outputs={"default": logits})
    hub.add_signature("image_feature_vector",
                      inputs={"images": images},
                      outputs={"default": features})
  # Pretraining needs logits in both kinds; this signature keeps the feature vector
  # module's "default" clean while the classifier head is still trained with it.
  hub.add_signature("pretraining_logits", inputs={"images": images}, outputs={"default": logits})


def make_spec(kind="feature_vector", **module_kwargs):
  return hub.create_module_spec(module_fn,
                                tags_and_args=[
                                    ({"train"}, dict(is_training=True, kind=kind, **module_kwargs)),
                                    (set(), dict(is_training=False, kind=kind, **module_kwargs))
                                ])
