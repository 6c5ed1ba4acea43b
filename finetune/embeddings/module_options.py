"""What a published text-embedding module does beyond its vectors; shared by both formats."""

import dataclasses

from finetune.embeddings import sentence_tokens
from finetune.errors import FinetuneError

L2_ROWS = ("used", "all")


@dataclasses.dataclass(frozen=True)
class ModuleOptions:
  """Args:
    num_oov_buckets: rows for words outside the vocabulary, chosen by a hash of the word
      (they start at zero and learn when fine-tuned).
    lowercase, punctuation: the in-graph tokenization (sentence_tokens.py).
    l2_regularization: the weight of an L2 penalty on the table when fine-tuned (0: none).
    l2_rows: "used" puts the penalty on the rows a batch looks up, so the gradient stays
      sparse (lazy optimizers then touch only those rows); "all" on the whole table.
    dropout: rate of dropout on the sentence embedding in a {"train"} graph variant
      (0: one variant only).
  """
  num_oov_buckets: int = 1
  lowercase: bool = True
  punctuation: str = "space"
  l2_regularization: float = 0.0
  l2_rows: str = "used"
  dropout: float = 0.0

  def __post_init__(self):
    if isinstance(self.num_oov_buckets, bool) or not isinstance(self.num_oov_buckets, int) or \
        self.num_oov_buckets < 1:
      raise FinetuneError(f"--num_oov_buckets={self.num_oov_buckets}: give 1 or more (words "
                          "outside the vocabulary need at least one row).")
    sentence_tokens.check_punctuation(self.punctuation)
    if not 0.0 <= self.l2_regularization < float("inf"):
      raise FinetuneError(f"--l2_regularization={self.l2_regularization}: give a weight of 0 "
                          "(none) or more, e.g. 1e-5.")
    if self.l2_rows not in L2_ROWS:
      raise FinetuneError(f"--l2_rows={self.l2_rows} is not a choice; use one of: "
                          f"{', '.join(L2_ROWS)}.")
    if not 0.0 <= self.dropout < 1.0:
      raise FinetuneError(f"--dropout={self.dropout}: give a rate in [0, 1).")
