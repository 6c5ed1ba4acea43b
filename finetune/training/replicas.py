"""Synchronous data parallelism in one host: in-graph replicas of the module and head.

tf.distribute's MirroredStrategy cannot mirror hub.Module variables (they are created by
importing the module's graph, outside its variable creators). The classic TF1 way works:
the module is instantiated once (variables on `variables_device`), each training batch is
split into N shards, and the module and head network run on each shard on its own device
(GPUs when the host has enough, else N CPU devices). The shards' logits are joined and the
head computes one loss over the whole batch, so gradients are those of one replica on the
global batch: the backward pass of each shard runs on its device (gradients colocated with
their ops) and the contributions meet at the variables. Regularization losses enter once.
Evaluation, prediction and exports use one replica.

Batch norm inside a module: each replica normalizes with its own shard's statistics (a
fixed module graph cannot synchronize them), and only replica 0's moving-average updates
run, so the moving statistics move as one replica's would on a batch of batch_size / N.
Dropout draws a separate mask per replica.
"""

import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.modules import graph_ops

# With the variables: the ops that create them, and their initialization checks.
_PLACED_WITH_VARIABLES = graph_ops.VARIABLE_OPS | {"VarIsInitializedOp"}


def replica_devices(count):
  """GPU devices when the host has `count` of them, else CPU devices (which the session
  config then creates: run_config asks for `count` CPU devices)."""
  gpus = tf.config.list_physical_devices("GPU")
  if len(gpus) >= count:
    return [f"/device:GPU:{i}" for i in range(count)]
  if gpus:
    raise FinetuneError(f"run_config.num_replicas = {count} but this host has {len(gpus)} GPUs; "
                        f"use at most {len(gpus)} (or a TF_CONFIG cluster across hosts).")
  return [f"/device:CPU:{i}" for i in range(count)]


def _placer(replica_device, variables_device):
  """A device function: variables on variables_device, everything else on the replica."""

  def place(op):
    return variables_device if op.type in _PLACED_WITH_VARIABLES else replica_device

  return place


def replicated(features, count, variables_device, build):
  """Runs build(shard features, replica index) -> [shard, ...] on each of `count` shards of
  the batch, each on its device, and joins the results along the batch.

  Keeps only replica 0's UPDATE_OPS (batch-norm moving averages): see the module docstring.
  """
  shards = {name: tf.split(value, count, axis=0) for name, value in features.items()}
  update_ops = tf.compat.v1.get_collection_ref(tf.compat.v1.GraphKeys.UPDATE_OPS)
  outputs = []
  for i, device in enumerate(replica_devices(count)):
    before = len(update_ops)
    with tf.compat.v1.device(_placer(device, variables_device)):
      outputs.append(build({name: parts[i] for name, parts in shards.items()}, i))
    if i > 0:
      del update_ops[before:]
  return tf.concat(outputs, axis=0)


def check_batch(batch_size, count):
  if count > 1 and batch_size % count:
    raise FinetuneError(f"The training batch_size {batch_size} does not split into "
                        f"run_config.num_replicas = {count} equal shards; make it a multiple of "
                        f"{count} (the batch size is global: each replica gets batch_size / N).")
