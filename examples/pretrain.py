"""Pretrains a module spec on labelled arrays and exports it: the usual route from a trained
graph to a TF1 Hub module (hub.Module(trainable=True, tags={"train"}), a session loop,
Module.export). The examples' module builders share it.
"""

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub


def pretrain_and_export(spec,
                        export_dir,
                        input_name,
                        inputs,
                        labels,
                        signature,
                        steps=1500,
                        batch_size=64,
                        learning_rate=0.01,
                        seed=0,
                        also_export=None):
  """Trains `spec` to predict `labels` from `inputs` with `signature`, then exports it.

  Args:
    spec: a hub.ModuleSpec with a {"train"} and a set() variant.
    export_dir: where the trained module is written (must not exist).
    input_name: the signature input that takes `inputs`.
    inputs, labels: numpy arrays; labels are class ids for the signature's logits.
    signature: a signature whose "default" output is logits over the classes.
    steps: training steps; 0 exports the random initialization (a "from scratch" baseline).
    also_export: {export_dir: spec} of further specs with the same variables (e.g. a
      feature-vector variant of a classifier) to export with the trained weights.

  Returns:
    Accuracy of the exported weights (inference variant) on (inputs, labels).
  """
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(seed)
    train_module = hub.Module(spec, trainable=True, tags={"train"}, name="pretrain")
    serve_module = hub.Module(spec, tags=set(), name="pretrain_eval")
    x = tf.compat.v1.placeholder(tf.float32, [None] + list(inputs.shape[1:]))
    y = tf.compat.v1.placeholder(tf.int64, [None])
    logits = train_module({input_name: x}, signature=signature)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(y, logits)
    loss += tf.compat.v1.losses.get_regularization_loss()
    update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
      train_op = tf.compat.v1.train.AdamOptimizer(learning_rate).minimize(loss)
    others = {
        path: hub.Module(other, name=f"export_{i}")
        for i, (path, other) in enumerate((also_export or {}).items())
    }
    # Copies share nothing with the trained module; its weights are copied in before use.
    copies = [copy_variables(train_module, m) for m in [serve_module] + list(others.values())]
    eval_logits = serve_module({input_name: x}, signature=signature)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(eval_logits, 1), y), tf.float32))
    rng = np.random.RandomState(seed)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      for _ in range(steps):
        idx = rng.randint(0, len(labels), batch_size)
        session.run(train_op, {x: inputs[idx], y: labels[idx]})
      session.run(copies)
      result = session.run(accuracy, {x: inputs, y: labels})
      train_module.export(export_dir, session)
      for path, module in others.items():
        module.export(path, session)
  return float(result)


def copy_variables(source, target):
  """Assign ops copying `source`'s variables into `target`'s, matched by name in the module."""
  relative = lambda variable: variable.op.name.split("/", 1)[1]
  by_name = {relative(v): v for v in source.variables}
  return tf.group([v.assign(by_name[relative(v)]) for v in target.variables])
