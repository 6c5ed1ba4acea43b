"""The predict schedule on files (--predict_files): the Estimator's predict over the files,
each prediction joined to its row's key and written, in the user's terms, as it comes.

Everything that can be wrong with the files is found before the first prediction (the
reader's check); the output appears whole or not at all (writers.py). Each prediction carries
its file and row through the graph (inputs/prediction_keys.py); the kept columns come from a
second read of the files, checked against those keys row by row, so a row can never be
joined to another row's columns.
"""

import logging
import os
import time

from finetune.errors import FinetuneError
from finetune.inputs import prediction_keys
from finetune.inputs import unlabelled
from finetune.prediction import checkpoints
from finetune.prediction import writers

log = logging.getLogger("finetune")
DEFAULT_OUTPUT = "predictions.jsonl"


class Progress:
  """A line every `every_secs`: rows so far and rows per second."""

  def __init__(self, every_secs):
    self._every_secs = every_secs
    self._start = self._last = None  # from the first row: graph building is not throughput

  def update(self, rows, final=False):
    now = time.time()
    if self._start is None:
      self._start = self._last = now
    if final or now - self._last >= self._every_secs:
      self._last = now
      rate = (rows - 1) / (now - self._start) if now > self._start and rows > 1 else 0
      log.info("Predicted %s rows (%s rows/s)%s", f"{rows:,}", f"{rate:,.0f}",
               ", done" if final else "")


def choose_checkpoint(job, request):
  path, step, how = checkpoints.choose(job.model_dir, request.checkpoint,
                                       job.evaluation.best_export_metric)
  log.info("Predicting with the checkpoint of step %s (%s): %s", step, how, path)
  return path


def predict_files(job, request):
  """Predictions for request.files into request.output (default MODEL_DIR/predictions.jsonl);
  returns the output's path."""
  prediction = job.prediction
  reader = job.data.unlabelled_files(list(request.files), prediction.keep_columns)
  output = request.output or os.path.join(job.model_dir, DEFAULT_OUTPUT)
  writers.check_output(output, reader.paths)
  reader.check()
  job.unlabelled = reader  # a data error in the graph is then looked for in these files
  checkpoint = choose_checkpoint(job, request)
  names = job.head.class_names(job.data.class_names)
  input_fn = unlabelled.input_fn(reader, job.data.eval_batch_size, job.data.tokenization)
  outputs = job.estimator.predict(input_fn, checkpoint_path=checkpoint)
  keys = reader.keys() if prediction.keep_columns else None
  progress = Progress(prediction.progress_every_secs)
  seen = [0] * len(reader.paths)  # rows predicted per file
  with writers.rows_to(output, job.head.list_delimiter) as writer:
    for outputs_of_row in outputs:
      file_index = int(outputs_of_row.pop(prediction_keys.FILE))
      row = int(outputs_of_row.pop(prediction_keys.ROW))
      _check_order(seen, file_index, row, reader.paths)
      record = {"file": reader.paths[file_index], "row": row}
      if keys is not None:
        record.update(_kept(keys, file_index, row, reader.paths))
      record.update(job.head.prediction_record(outputs_of_row, prediction, names))
      writer.write(record)
      progress.update(sum(seen))
    _check_counts(seen, reader.row_counts, reader.paths)
  progress.update(sum(seen), final=True)
  log.info("Wrote %s predictions to %s", f"{sum(seen):,}", output)
  return output


def _check_order(seen, file_index, row, paths):
  """Each row once, in order: a prediction for another row than the file's next one means
  the file changed, or the reading and the check of it disagree."""
  if row != seen[file_index]:
    raise FinetuneError(f"A prediction is for {paths[file_index]} row {row} where row "
                        f"{seen[file_index]} was next (a file changed while predicting?); "
                        "nothing was written. Run again.")
  seen[file_index] += 1


def _check_counts(seen, counts, paths):
  for path, predicted, count in zip(paths, seen, counts):
    if predicted != count:
      raise FinetuneError(f"{path} has {count:,} rows but {predicted:,} were predicted (a file "
                          "changed while predicting?); nothing was written. Run again.")


def _kept(keys, file_index, row, paths):
  """The kept columns of the row a prediction is for, from the files' second read."""
  found = next(keys, None)
  if found is None or found[:2] != (file_index, row):
    where = "its end" if found is None else f"{paths[found[0]]} row {found[1]}"
    raise FinetuneError(f"The kept columns' read of the files is at {where} where the "
                        f"prediction is for {paths[file_index]} row {row} (a file changed "
                        "while predicting?); nothing was written. Run again.")
  return found[2]
