"""The rank of a module output against what the head takes: [batch, features] for a
per-example head (a sequence output pooled first), [batch, positions, features] per position."""

from finetune.errors import FinetuneError


def check_rank(key, shape, signature, pooling, per_position_head):
  """Refuses an output whose rank the head (after pooling) cannot take, saying what would fit."""
  wanted = 3 if per_position_head or pooling else 2
  if shape.rank is None or shape.rank == wanted:
    return
  if shape.rank == 3:
    raise FinetuneError(
        f"Output '{key}' of signature '{signature}' has shape {shape}: [batch, "
        "positions, features]. Set hub_module.pooling = \"first\", \"mean\" or \"max\" to "
        "pool it for this head (padding is masked out), or pick a pooled output.")
  if pooling:
    raise FinetuneError(f"hub_module.pooling = '{pooling}' pools a [batch, positions, "
                        f"features] output, but output '{key}' has shape {shape}; set "
                        "hub_module.pooling = None.")
  raise FinetuneError(
      f"Output '{key}' of signature '{signature}' has shape {shape}; the head "
      + ("takes one prediction per position: pick a sequence output such as sequence_output."
         if per_position_head else
         "needs a [batch, features] output. Pick a pooled or feature-vector output."))
