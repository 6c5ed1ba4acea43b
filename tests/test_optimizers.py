"""Lazy Adam and lazy AdamW against Adam's formulas, on a tiny table, row by row."""

import os

import numpy as np
import pytest
import tensorflow as tf

from finetune.training.optimizers import LazyAdamOptimizer
from finetune.training.optimizers import LazyAdamWOptimizer

LR, B1, B2, EPS = 0.1, 0.9, 0.999, 1e-8
TABLE = np.arange(12, dtype=np.float32).reshape(6, 2) / 10
DENSE = np.array([1.0, -2.0], np.float32)
BATCHES = [[1, 3, 3], [3, 4], [1, 1]]  # row 3 twice in the first batch: gradients add up


def loss_and_variables(ids, use_resource):
  """sum(table rows of ids) * (1, 2) + sum(dense^2): row gradients are (1, 2) per use."""
  table = tf.compat.v1.get_variable("table", initializer=TABLE, use_resource=use_resource)
  dense = tf.compat.v1.get_variable("dense", initializer=DENSE, use_resource=use_resource)
  rows = tf.gather(table, ids)
  loss = tf.reduce_sum(rows * tf.constant([1.0, 2.0])) + tf.reduce_sum(tf.square(dense))
  return loss, table, dense


def run_steps(optimizer_fn, batches, use_resource=True, restore_from=None, save_to=None):
  with tf.Graph().as_default():
    ids = tf.compat.v1.placeholder(tf.int32, [None])
    loss, table, dense = loss_and_variables(ids, use_resource)
    optimizer = optimizer_fn()
    grads = optimizer.compute_gradients(loss, [table, dense])
    assert isinstance(grads[0][0], tf.IndexedSlices)  # the table's gradient is sparse
    train_op = optimizer.apply_gradients(grads)
    m = optimizer.get_slot(table, "m")
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      if restore_from:
        saver.restore(session, restore_from)
      for batch in batches:
        session.run(train_op, {ids: batch})
      if save_to:
        saver.save(session, save_to)
      return session.run([table, dense, m])


def reference(batches, weight_decay=0.0):
  """Adam's formulas by hand; lazy on the table's rows, dense on the dense variable."""
  table, dense = TABLE.copy(), DENSE.copy()
  m, v = np.zeros_like(table), np.zeros_like(table)
  dm, dv = np.zeros_like(dense), np.zeros_like(dense)
  for t, batch in enumerate(batches, start=1):
    rate = LR * np.sqrt(1 - B2**t) / (1 - B1**t)
    rows = sorted(set(batch))
    grad = {r: batch.count(r) * np.array([1.0, 2.0], np.float32) for r in rows}
    dgrad = 2 * dense
    table[rows] -= LR * weight_decay * table[rows]
    dense -= LR * weight_decay * dense
    for r in rows:
      m[r] = B1 * m[r] + (1 - B1) * grad[r]
      v[r] = B2 * v[r] + (1 - B2) * grad[r]**2
      table[r] -= rate * m[r] / (np.sqrt(v[r]) + EPS)
    dm = B1 * dm + (1 - B1) * dgrad
    dv = B2 * dv + (1 - B2) * dgrad**2
    dense -= rate * dm / (np.sqrt(dv) + EPS)
  return table, dense, m


@pytest.mark.parametrize("use_resource", [True, False])
def test_lazy_adam_is_adam_on_touched_rows_and_leaves_the_rest(use_resource):
  table, dense, m = run_steps(lambda: LazyAdamOptimizer(LR), BATCHES, use_resource)
  want_table, want_dense, want_m = reference(BATCHES)
  np.testing.assert_allclose(table, want_table, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(dense, want_dense, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(m, want_m, rtol=1e-5, atol=1e-6)
  for untouched in (0, 2, 5):
    np.testing.assert_array_equal(table[untouched], TABLE[untouched])
    np.testing.assert_array_equal(m[untouched], 0.0)


def test_dense_adam_differs_on_rows_left_out():
  """The reference above is not plain Adam: dense Adam moves row 1 at the second step by
  its momentum, lazy Adam does not (so the first test can tell the two apart)."""
  dense_table, _, _ = run_steps(lambda: tf.compat.v1.train.AdamOptimizer(LR), BATCHES[:2])
  lazy_table, _, _ = run_steps(lambda: LazyAdamOptimizer(LR), BATCHES[:2])
  assert not np.allclose(dense_table[1], lazy_table[1])
  np.testing.assert_allclose(dense_table[4], lazy_table[4], rtol=1e-6)  # first use: equal


@pytest.mark.parametrize("use_resource", [True, False])
def test_lazy_adamw_decays_only_touched_rows_and_every_dense_weight(use_resource):
  optimizer = lambda: LazyAdamWOptimizer(LR, weight_decay=0.5, exclude_from_weight_decay=None)
  table, dense, _ = run_steps(optimizer, BATCHES, use_resource)
  want_table, want_dense, _ = reference(BATCHES, weight_decay=0.5)
  np.testing.assert_allclose(table, want_table, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(dense, want_dense, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(table[[0, 2, 5]], TABLE[[0, 2, 5]])


def test_checkpoint_restores_slots_and_step_count(tmp_path):
  """Two steps, save, restore in a new graph, one step: equals three steps in one go."""
  checkpoint = os.path.join(tmp_path, "model.ckpt")
  run_steps(lambda: LazyAdamOptimizer(LR), BATCHES[:2], save_to=checkpoint)
  resumed = run_steps(lambda: LazyAdamOptimizer(LR), BATCHES[2:], restore_from=checkpoint)
  straight = run_steps(lambda: LazyAdamOptimizer(LR), BATCHES)
  for got, want in zip(resumed, straight):
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("lazy, dense", [
    (LazyAdamOptimizer, tf.compat.v1.train.AdamOptimizer),
    (LazyAdamWOptimizer, tf.compat.v1.train.AdamOptimizer),
])
def test_checkpoints_hold_the_same_variables_as_adams(lazy, dense):
  """So a run may switch between lazy and dense Adam when it resumes."""
  names = []
  for optimizer in (lazy, dense):
    with tf.Graph().as_default():
      ids = tf.constant([1, 2])
      loss, _, _ = loss_and_variables(ids, use_resource=True)
      optimizer(LR, name="optimizer").minimize(loss)
      names.append(sorted(v.op.name for v in tf.compat.v1.global_variables()))
  assert names[0] == names[1] and "table/optimizer_1" in names[0]
