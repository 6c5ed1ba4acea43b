"""A sweep in TensorBoard's HParams dashboard: `tensorboard --logdir SWEEP_DIR/tensorboard`.

Written with TensorBoard's own hparams summary protos (it ships with TensorFlow): the
experiment (every swept parameter and every eval metric) at the root, and one run per
finished trial with its parameter values and final metrics (a pruned trial's are those of
its last evaluation), so the dashboard shows the table,
parallel coordinates and scatter plots of all trials. Rebuilt from the trial directories,
like results.csv, whenever results are collected.
"""

import os

import tensorflow as tf
from tensorboard.plugins.hparams import api as hp

TENSORBOARD = "tensorboard"


def _value(value):
  """HParams take bools, numbers and strings; anything else is shown as its text."""
  return value if isinstance(value, (bool, int, float, str)) else repr(value)


def _write(logdir, summaries, step=0):
  # tf.compat.v1's writer takes summary protos as they are; it needs graph mode.
  with tf.Graph().as_default():
    writer = tf.compat.v1.summary.FileWriter(logdir)
    for summary in summaries:
      # hparams' protos are TensorBoard's own copies of Summary: pass them as bytes.
      writer.add_summary(tf.compat.v1.Summary.FromString(summary.SerializeToString()), step)
    writer.close()


def write(sweep_dir, rows):
  """Writes the HParams experiment and one run per finished trial; returns the log dir."""
  root = os.path.join(sweep_dir, TENSORBOARD)
  if tf.io.gfile.isdir(root):  # rebuilt whole: a second session per trial would show twice
    tf.io.gfile.rmtree(root)
  params = list(dict.fromkeys(p for r in rows for p in r["params"]))
  metrics = sorted({m for r in rows for m in r["metrics"] if m != "global_step"})
  _write(root, [hp.hparams_config_pb(hparams=[hp.HParam(p) for p in params],
                                     metrics=[hp.Metric(m) for m in metrics])])
  for row in rows:
    if row["state"] not in ("done", "pruned") or not row["metrics"]:
      continue
    values = {hp.HParam(p): _value(v) for p, v in row["params"].items()}
    scalars = tf.compat.v1.Summary(value=[
        tf.compat.v1.Summary.Value(tag=m, simple_value=float(row["metrics"][m]))
        for m in metrics if m in row["metrics"]
    ])
    _write(os.path.join(root, row["trial"]),
           [hp.hparams_pb(values, trial_id=row["trial"]), scalars],
           step=int(row["metrics"].get("global_step") or 0))
  return root
