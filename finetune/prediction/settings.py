"""What a batch prediction writes beside each row's key, in the user's terms (gin), and what
one predict run was asked for (flags or api.predict).

    prediction.keep_columns = ["id", "text"]   columns copied to each output row
    prediction.top_k = 3                       the 3 likeliest classes with probabilities
    prediction.all_probabilities = True        every class's probability
    prediction.threshold = 0.3                 binary and multi-label decisions
"""

import dataclasses
from typing import Optional, Sequence

import gin

from finetune import checks
from finetune.errors import FinetuneError

OUTPUT_FORMATS = (".jsonl", ".csv")
CHECKPOINT_CHOICES = ("latest", "best")


@gin.configurable("prediction")
class Prediction:
  """The columns of a batch prediction's output rows.

  Args:
    keep_columns: input columns (CSV) or features (TFRecord) copied to every output row under
      their own names, to join predictions back (an id, the text).
    top_k: also give the k likeliest classes with their probabilities (classification).
    all_probabilities: also give every class's probability (classification).
    threshold: the probability from which a binary head predicts its positive class and a
      multi-label head predicts a class (default 0.5).
    progress_every_secs: cadence of the progress line (rows and rows/s).
  """

  def __init__(self,
               keep_columns: Sequence[str] = (),
               top_k: Optional[int] = None,
               all_probabilities: bool = False,
               threshold: Optional[float] = None,
               progress_every_secs: float = 10.0):
    keep_columns = [keep_columns] if isinstance(keep_columns, str) else keep_columns
    self.keep_columns = list(checks.sequence(keep_columns, "prediction.keep_columns",
                                             "['id']"))
    bad = [c for c in self.keep_columns if not isinstance(c, str) or not c]
    if bad:
      raise FinetuneError(f"prediction.keep_columns must name columns (strings), got {bad}.")
    repeated = sorted({c for c in self.keep_columns if self.keep_columns.count(c) > 1})
    if repeated:
      raise FinetuneError(f"prediction.keep_columns names {', '.join(repeated)} more than once.")
    self.top_k = checks.positive_int(top_k, "prediction.top_k", allow_none=True)
    self.all_probabilities = checks.boolean(all_probabilities, "prediction.all_probabilities")
    if threshold is not None and (isinstance(threshold, bool) or
                                  not isinstance(threshold, (int, float)) or
                                  not 0 < threshold < 1):
      raise FinetuneError("prediction.threshold must be a probability strictly between 0 and 1, "
                          f"got {threshold!r}.")
    self.threshold = threshold
    self.progress_every_secs = checks.positive_number(progress_every_secs,
                                                      "prediction.progress_every_secs")


@dataclasses.dataclass(frozen=True)
class PredictRequest:
  """One predict run's files, output and checkpoint (--predict_files, --predict_output,
  --checkpoint). `files` None: the eval set, as the predict schedule always did."""
  files: Optional[Sequence[str]] = None
  output: Optional[str] = None
  checkpoint: Optional[str] = None

  @property
  def writes_elsewhere(self):
    """Whether the predictions go to a file of the user's, not into the model_dir."""
    return bool(self.files and self.output)

  def check(self, schedule):
    """Refuses what only a predict run reads, given to another schedule, and an output whose
    format is unknown."""
    given = [flag for flag, value in (("--predict_files", self.files),
                                      ("--predict_output", self.output),
                                      ("--checkpoint", self.checkpoint)) if value]
    if given and schedule != "predict":
      raise FinetuneError(f"{', '.join(given)} only apply to --schedule=predict (this run's "
                          f"schedule is {schedule}).")
    if self.output and not self.output.endswith(OUTPUT_FORMATS):
      raise FinetuneError(f"--predict_output = '{self.output}' has no known format; end it in "
                          f"{' or '.join(OUTPUT_FORMATS)} (e.g. predictions.csv).")
    if self.output and not self.files:
      raise FinetuneError("--predict_output needs --predict_files (the files to predict on); "
                          "without them the eval set's predictions go to "
                          "MODEL_DIR/predictions.jsonl.")
    if self.files is not None and not self.files:
      raise FinetuneError("--predict_files names no files; give a file, a glob pattern or a "
                          "folder of images.")
