"""The Optuna study behind a search sweep: where it is stored, how it samples and prunes.

The study lives in SWEEP_DIR/study.journal (Optuna's journal file) unless `--storage` names
an RDB URL (sqlite:///..., postgresql://..., mysql://...) or another journal file (on a file
system every host shares). Every process that opens the same study is one more worker of it.
The study remembers what it searches (metric, direction, space, grid): a command that asks
for another search of the same study is refused, instead of mixing two searches.
"""

import dataclasses
import json
import os
import re
import warnings
from typing import Optional

import optuna

from finetune.errors import FinetuneError

STUDY_FILE = "study.journal"
SEARCHES = ("tpe", "random", "grid")
PRUNERS = ("median", "halving", "hyperband", "none")


@dataclasses.dataclass
class SearchSettings:
  """What a search sweep asks of Optuna.

  Attributes:
    search: tpe, random, or grid (Optuna's GridSampler over `grid`).
    space: [(parameter, Optuna distribution)] for tpe and random.
    grid: [(parameter, [values])] for grid.
    trials: the study's total.
    pruner: median, halving, hyperband or none.
    startup_trials: trials sampled at random, and never pruned by the median pruner, before
      the study's history is trusted.
    metric, higher_is_better: what each evaluation reports.
    eval_every_steps: steps between evaluations (the pruners' smallest resource).
    train_steps: a full trial's steps (Hyperband's largest resource).
  """
  search: str
  space: list
  grid: list
  trials: int
  config: tuple = ()  # the base config files and bindings every trial shares
  pruner: str = "median"
  startup_trials: Optional[int] = None
  metric: str = "accuracy"
  higher_is_better: bool = True
  eval_every_steps: int = 1
  train_steps: Optional[int] = None

  def startup(self):
    """A quarter of the trials, 2 to 10, unless given."""
    if self.startup_trials is not None:
      return self.startup_trials
    return min(10, max(2, self.trials // 4))


def grid_size(grid):
  size = 1
  for _, values in grid:
    size *= len(values)
  return size


def quiet():
  """Optuna's per-trial log lines and experimental-feature warnings: the sweep logs its own."""
  optuna.logging.set_verbosity(optuna.logging.WARNING)
  warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def open_storage(sweep_dir, storage=None):
  """An RDB storage for a URL, else a journal file (default SWEEP_DIR/study.journal)."""
  if storage and re.match(r"^[a-z][\w+]*://", storage):
    _check_sqlite_folder(storage)
    try:
      return optuna.storages.RDBStorage(storage)
    except (ImportError, ModuleNotFoundError) as e:
      raise FinetuneError(f"--storage={storage} needs a database driver that is not "
                          f"installed ({e}); install it, or pass a journal file path.") from e
    except Exception as e:  # pylint: disable=broad-except  (SQLAlchemy's many errors)
      raise FinetuneError(f"--storage={storage} cannot be opened: {type(e).__name__}: "
                          f"{str(e).splitlines()[0]}") from e
  path = storage or os.path.join(sweep_dir, STUDY_FILE)
  if "://" in path:
    raise FinetuneError(f"A search sweep in '{sweep_dir}' cannot keep its study there (Optuna's "
                        "journal file needs a local or shared POSIX path): pass "
                        "--storage=PATH or --storage=postgresql://...")
  if os.path.isdir(path):
    raise FinetuneError(f"--storage={path} is a directory; the study is one journal file: pass "
                        f"--storage={os.path.join(path, STUDY_FILE)}.")
  try:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _check_journal(path)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(path))
  except OSError as e:
    raise FinetuneError(f"The study's journal file {path} cannot be written: {e.strerror}; pass "
                        "--storage=A_WRITABLE_PATH.") from None
  except ValueError as e:  # json's decode error, and Optuna's on a foreign log
    raise FinetuneError(f"{path} is not an Optuna journal file ({type(e).__name__}: "
                        f"{str(e).splitlines()[0]}); pass --storage= a new path, or remove "
                        "the file if it is a broken study.") from None
  return storage


class _GridSampler(optuna.samplers.GridSampler):
  """Optuna's GridSampler without its call of Study.stop once the grid is used up: that ends
  an optimize() loop, and raises RuntimeError under ask/tell, which the sweep uses. Workers
  stop by themselves when the study holds its trials (trials/search.py)."""

  def after_trial(self, study, trial, state, values):
    del study, trial, state, values


def _check_sqlite_folder(url):
  """SQLite creates the database file but not its folder, and says only 'unable to open'."""
  if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
    return
  folder = os.path.dirname(os.path.abspath(url[len("sqlite:///"):]))
  if not os.path.isdir(folder):
    raise FinetuneError(f"--storage={url}: the folder {folder} does not exist (SQLite creates "
                        "the database file, not its folder); create it, or pass another path.")


def _check_journal(path):
  """An existing journal file is JSON lines (Optuna's log of operations); Optuna itself would
  fail on another file only at its first read, with a bare JSON error."""
  if not os.path.exists(path) or not os.path.getsize(path):
    return
  with open(path, "rb") as f:
    first = f.readline(1 << 20)
  value = json.loads(first.decode("utf-8", "replace"))  # ValueError if it is no JSON
  if not isinstance(value, dict) or "op_code" not in value:
    raise ValueError("its first line is not one of Optuna's journal records")


def sampler(settings):
  if settings.search == "grid":
    return _GridSampler({p: list(v) for p, v in settings.grid})
  if settings.search == "random":
    return optuna.samplers.RandomSampler()
  # constant_liar: parallel workers do not all sample next to the same running trial.
  return optuna.samplers.TPESampler(n_startup_trials=settings.startup(), multivariate=True,
                                    constant_liar=True)


def pruner(settings):
  if settings.pruner == "median":
    return optuna.pruners.MedianPruner(n_startup_trials=settings.startup())
  if settings.pruner == "halving":
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=settings.eval_every_steps)
  if settings.pruner == "hyperband":
    return optuna.pruners.HyperbandPruner(min_resource=settings.eval_every_steps,
                                          max_resource=settings.train_steps or "auto")
  return optuna.pruners.NopPruner()


def _signature(settings):
  """What the study remembers of its search, to refuse a different one."""
  return {
      "metric": settings.metric,
      "search": settings.search,
      "space": {p: repr(d) for p, d in settings.space},
      "grid": {p: repr(list(v)) for p, v in settings.grid},
      "config": [list(part) for part in settings.config],
  }


def open_study(storage, name, settings):
  """Creates the study or joins it; refuses one made for another search."""
  direction = "maximize" if settings.higher_is_better else "minimize"
  study = optuna.create_study(storage=storage, study_name=name, direction=direction,
                              sampler=sampler(settings), pruner=pruner(settings),
                              load_if_exists=True)
  if study.direction.name.lower() != direction:
    raise FinetuneError(f"Study '{name}' {study.direction.name.lower()}s its metric; this "
                        f"command would {direction} it: drop or add --lower_is_better, or use "
                        "another --study_name.")
  signature, recorded = _signature(settings), study.user_attrs.get("search")
  if recorded is not None and "config" not in recorded:  # a study of an earlier finetune
    signature.pop("config")
  if recorded is None:
    study.set_user_attr("search", signature)
  elif recorded != signature:
    differs = sorted(k for k in signature if signature[k] != recorded.get(k))
    raise FinetuneError(f"Study '{name}' was started with another {', '.join(differs)} "
                        f"({', '.join(f'{k}: {recorded.get(k)}' for k in differs)}); run it "
                        "with the same flags, or use another --study_name or --sweep_dir.")
  return study


def load(storage, name):
  """An existing study (for --collect), or None."""
  try:
    return optuna.load_study(study_name=name, storage=storage)
  except KeyError:
    return None

