"""One measured fine-tuning run in this process; prints one JSON line of figures.

  python bench/one_run.py --mode=a|b|c --kind=text|image --batch_size=64 --steps=300

(a) finetune from a gin config, (b) a plain tf.estimator.Estimator with a minimal
model_fn, (c) a raw tf.compat.v1.Session loop over the same graph. Same module, data,
batch size, optimizer (Adam, constant rate) and head (a dense layer on the module output).
Time to first step runs from after the libraries are imported (TensorFlow, tf.estimator,
tensorflow_hub, and finetune for (a)) to the end of the first training step.
"""

import json
import os
import pydoc
import resource
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_hub as hub  # noqa: E402

from bench import setup_modules  # noqa: E402

OPTIMIZERS = {  # flag -> (gin reference, class for (c))
    "adam": ("@tf.train.AdamOptimizer", "tensorflow.compat.v1.train.AdamOptimizer"),
    "lazy_adam": ("@LazyAdamOptimizer", "finetune.training.optimizers.LazyAdamOptimizer"),
    "lazy_adamw": ("@LazyAdamWOptimizer", "finetune.training.optimizers.LazyAdamWOptimizer"),
    "adagrad": ("@tf.train.AdagradOptimizer", "tensorflow.compat.v1.train.AdagradOptimizer"),
}
flags.DEFINE_enum("mode", "a", ["a", "b", "c"], "Which way to train.")
flags.DEFINE_enum("kind", "text", ["text", "image", "bigtext"],
                  "Which module and data (bigtext: 400,000 hashed buckets x 256).")
flags.DEFINE_enum("optimizer", "adam", list(OPTIMIZERS), "(a) and (c): the optimizer.")
flags.DEFINE_bool("frozen", False, "(a) only: hub_module.trainable = False.")
flags.DEFINE_enum("arithmetic", "default", ["default", "on", "off"],
                  "Grappler's arithmetic optimizer: (a) run_config.arithmetic_optimization, "
                  "(c) the session config; default: each way's own default.")
flags.DEFINE_integer("batch_size", 64, "Training batch size.")
flags.DEFINE_integer("steps", 300, "Training steps.")
flags.DEFINE_integer("steps_per_run", 1, "(a) only: training.steps_per_run.")
FLAGS = flags.FLAGS
LEARNING_RATE = 1e-3
WARMUP_STEPS = 20  # throughput is measured after these


class Timing(tf.compat.v1.train.SessionRunHook):
  """Wall time of the first run and of the steps after warm-up; one clock read a run.

  `steps_per_run` is how many training steps each run does ((a) with
  training.steps_per_run, whose first run does one step and the next ones end on
  multiples of K).
  """

  def __init__(self, t0, steps_per_run=1):
    self.t0, self.per_run = t0, steps_per_run
    self.steps, self.first, self.warm, self.warm_steps, self.last = 0, None, None, None, None

  def after_run(self, run_context, run_values):
    self.steps = 1 if self.first is None else (self.steps // self.per_run + 1) * self.per_run
    now = time.time()
    if self.first is None:
      self.first = now - self.t0
    if self.warm is None and self.steps >= WARMUP_STEPS:
      self.warm, self.warm_steps = now, self.steps
    self.last = now


# --- The same input pipeline and model, written by hand for (b) and (c) --------------------


def input_fn(paths, kind, batch_size, training):

  def fn():
    if kind != "image":
      lines = tf.data.TextLineDataset(paths["train" if training else "eval"]).skip(1).cache()
      if training:
        lines = lines.shuffle(10000, seed=1).repeat()

      def parse(batch):
        text, area = tf.io.decode_csv(batch, [tf.constant([], tf.string)] * 2)
        return {"text": text}, area

      return lines.batch(batch_size).map(parse, tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    records = tf.data.TFRecordDataset(paths["train" if training else "eval"]).cache()
    if training:
      records = records.shuffle(10000, seed=1).repeat()
    spec = {
        "images": tf.io.FixedLenFeature([32, 32, 3], tf.float32),
        "label": tf.io.FixedLenFeature([], tf.int64)
    }

    def parse(batch):
      parsed = tf.io.parse_example(batch, spec)
      return {"images": parsed["images"]}, parsed["label"]

    return records.batch(batch_size).map(parse, tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)

  return fn


def model(features, labels, kind, module_path, training):
  """Returns (loss, train_op or None, logits)."""
  module = hub.Module(module_path,
                      trainable=True,
                      tags={"train"} if training else set(),
                      name="module")
  inputs = features["images"] if kind == "image" else features["text"]
  outputs = module(inputs)
  if kind != "image":
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(["files", "math", "network", "text"], [0, 1, 2, 3],
                                            tf.string, tf.int64), -1)
    logits = tf.compat.v1.layers.dense(outputs, 4, name="logits")
    labels = table.lookup(labels)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
  else:
    logits = tf.compat.v1.layers.dense(outputs, 1, name="logits")
    loss = tf.compat.v1.losses.sigmoid_cross_entropy(
        tf.cast(tf.reshape(labels, [-1, 1]), tf.float32), logits)
  loss += tf.compat.v1.losses.get_regularization_loss()
  if not training:
    return loss, None, (logits, labels)
  step = tf.compat.v1.train.get_or_create_global_step()
  optimizer = pydoc.locate(OPTIMIZERS[FLAGS.optimizer][1])
  with tf.control_dependencies(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)):
    train_op = optimizer(LEARNING_RATE).minimize(loss, step)
  return loss, train_op, (logits, labels)


# --- The three ways ------------------------------------------------------------------------


def run_a(paths, kind, batch_size, steps, model_dir, steps_per_run=1):
  import gin  # pylint: disable=g-import-not-at-top
  from finetune import api  # pylint: disable=g-import-not-at-top
  from finetune import config  # noqa: F401  (config registers gin's TF pieces)
  t0 = time.time()  # after imports, as for (b) and (c): libraries load before the clock
  if kind != "image":
    data = [
        f"csv_data.train_files = '{paths['train']}'", f"csv_data.eval_files = '{paths['eval']}'",
        "csv_data.label_column = 'area'", "csv_data.column_types = {'text': 'string'}",
        "experiment.data = @csv_data()", f"csv_data.batch_size = {batch_size}", "csv_data.seed = 1",
        "hub_module.input_mapping = {'default': 'text'}", "experiment.head = @multi_class_head()",
        "multi_class_head.n_classes = 4",
        "multi_class_head.label_vocabulary = ['files', 'math', 'network', 'text']"
    ]
  else:
    data = [
        f"tfrecord_data.train_files = '{paths['train']}'",
        f"tfrecord_data.eval_files = '{paths['eval']}'",
        "tfrecord_data.feature_spec = {'images': ('float', [32, 32, 3])}",
        "tfrecord_data.label_key = 'label'", "experiment.data = @tfrecord_data()",
        f"tfrecord_data.batch_size = {batch_size}", "tfrecord_data.seed = 1",
        "experiment.head = @binary_class_head()"
    ]
  bindings = data + [
      f"hub_module.handle = '{paths['module']}'", f"training.train_steps = {steps}",
      f"optimization.optimizer = {OPTIMIZERS[FLAGS.optimizer][0]}",
      f"hub_module.trainable = {not FLAGS.frozen}",
      f"learning_rate_schedule.base_learning_rate = {LEARNING_RATE}",
      "optimization.module_learning_rate_multiplier = 1.0",
      f"training.steps_per_run = {steps_per_run}"
  ]
  if FLAGS.arithmetic != "default":
    bindings.append(f"run_config.arithmetic_optimization = {FLAGS.arithmetic == 'on'}")
  # api.train reads configs/base/plumbing.gin first, then these bindings (no task file).
  timing = Timing(t0, steps_per_run)
  api.train([], bindings, model_dir=model_dir, schedule="train", hooks=[timing])
  t1 = time.time()
  result = api.train([], bindings, model_dir=model_dir, schedule="evaluate")
  gin.clear_config()
  return timing, time.time() - t1, result.metrics.get("accuracy")


def run_b(paths, kind, batch_size, steps, model_dir):
  _ = tf.estimator.Estimator  # load tf.estimator before the clock, as (a) loads finetune
  t0 = time.time()

  def model_fn(features, labels, mode):
    training = mode == tf.estimator.ModeKeys.TRAIN
    loss, train_op, _ = model(features, labels, kind, paths["module"], training)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

  estimator = tf.estimator.Estimator(model_fn, model_dir)
  timing = Timing(t0)
  estimator.train(input_fn(paths, kind, batch_size, True), max_steps=steps, hooks=[timing])
  t1 = time.time()
  estimator.evaluate(input_fn(paths, kind, 256, False))
  return timing, time.time() - t1, None


def session_config():
  """(c)'s session: TensorFlow's defaults, or the arithmetic optimizer as the flag says."""
  config = tf.compat.v1.ConfigProto()
  if FLAGS.arithmetic != "default":
    from tensorflow.core.protobuf import rewriter_config_pb2  # pylint: disable=g-import-not-at-top
    toggle = rewriter_config_pb2.RewriterConfig
    config.graph_options.rewrite_options.arithmetic_optimization = (
        toggle.ON if FLAGS.arithmetic == "on" else toggle.OFF)
  return config


def run_c(paths, kind, batch_size, steps, model_dir):
  t0 = time.time()
  timing = Timing(t0)
  checkpoint = os.path.join(model_dir, "model.ckpt")
  with tf.Graph().as_default():
    features, labels = tf.compat.v1.data.make_one_shot_iterator(
        input_fn(paths, kind, batch_size, True)()).get_next()
    _, train_op, _ = model(features, labels, kind, paths["module"], True)
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session(config=session_config()) as session:
      session.run([tf.compat.v1.global_variables_initializer(), tf.compat.v1.tables_initializer()])
      for _ in range(steps):
        session.run(train_op)
        timing.after_run(None, None)
      saver.save(session, checkpoint)
  t1 = time.time()
  with tf.Graph().as_default():
    features, labels = tf.compat.v1.data.make_one_shot_iterator(
        input_fn(paths, kind, 256, False)()).get_next()
    loss, _, (logits, labels) = model(features, labels, kind, paths["module"], False)
    if kind == "image":
      right = tf.equal(tf.cast(logits[:, 0] > 0, tf.int64), labels)
    else:
      right = tf.equal(tf.argmax(logits, -1), labels)
    tf.compat.v1.train.get_or_create_global_step()
    counts = [0, 0]
    with tf.compat.v1.Session(config=session_config()) as session:
      session.run(tf.compat.v1.tables_initializer())
      tf.compat.v1.train.Saver().restore(session, checkpoint)
      try:
        while True:
          _, batch = session.run([loss, right])
          counts = [counts[0] + batch.sum(), counts[1] + batch.size]
      except tf.errors.OutOfRangeError:
        pass
  return timing, time.time() - t1, counts[0] / counts[1]


def main(argv):
  del argv
  paths = {"text": setup_modules.text, "image": setup_modules.image,
           "bigtext": setup_modules.big_text}[FLAGS.kind]()
  eval_examples = sum(1 for _ in open(paths["eval"])) - 1 if FLAGS.kind != "image" else sum(
      1 for _ in tf.compat.v1.io.tf_record_iterator(paths["eval"]))
  model_dir = tempfile.mkdtemp(prefix=f"bench_{FLAGS.mode}_")
  try:
    run = {"a": run_a, "b": run_b, "c": run_c}[FLAGS.mode]
    extra = {"steps_per_run": FLAGS.steps_per_run} if FLAGS.mode == "a" else {}
    timing, eval_secs, accuracy = run(paths, FLAGS.kind, FLAGS.batch_size, FLAGS.steps, model_dir, **extra)
  finally:
    shutil.rmtree(model_dir, ignore_errors=True)
  measured_steps = timing.steps - timing.warm_steps
  print(
      json.dumps({
          "mode": FLAGS.mode,
          "steps_per_run": FLAGS.steps_per_run if FLAGS.mode == "a" else 1,
          "kind": FLAGS.kind,
          "optimizer": FLAGS.optimizer,
          "frozen": FLAGS.frozen,
          "arithmetic": FLAGS.arithmetic,
          "eval_accuracy": None if accuracy is None else float(accuracy),
          "batch_size": FLAGS.batch_size,
          "steps": timing.steps,
          "train_examples_per_sec": measured_steps * FLAGS.batch_size / (timing.last - timing.warm),
          "first_step_secs": timing.first,
          "eval_examples_per_sec": eval_examples / eval_secs,
          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
      }))


if __name__ == "__main__":
  app.run(main)
