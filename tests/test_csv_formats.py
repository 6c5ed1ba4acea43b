"""CSV files that are not comma-separated plain or gzip text: named with the fix before
anything runs (issue 22: a semicolon file and a bzip2 file were refused as a header that
differs from the eval file's)."""

import bz2
import lzma
import shutil

import pytest

from finetune import config
from finetune import experiment
from finetune.errors import FinetuneError
from tests import builders


def check(tmp_path, train_file, bindings=()):
  config.parse(["digits/finetune.gin"], [f"csv_data.train_files = '{train_file}'",
                                         *bindings])
  experiment.run(str(tmp_path / "model"), "check")


def test_a_semicolon_separated_file_is_named_with_the_delimiter_to_set(tmp_path, digits_module):
  semicolons = tmp_path / "train.csv"
  with open(builders.DIGITS_DATA + "/finetune_train.csv") as f:
    semicolons.write_text(f.read().replace(",", ";"))
  with pytest.raises(FinetuneError, match=r"has one column, 'pixel_0;pixel_1;.*\.\.\.', with "
                                          r"csv_data.field_delim = ','.* it looks ';'-separated: "
                                          r"set csv_data.field_delim = ';'"):
    check(tmp_path, semicolons, [f"MODULE_HANDLE = '{digits_module}'"])
  assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("compress, kind", [(bz2.compress, "bzip2"), (lzma.compress, "xz")])
def test_a_compression_tensorflow_cannot_read_is_named(tmp_path, digits_module, compress, kind):
  packed = tmp_path / "train.csv"
  with open(builders.DIGITS_DATA + "/finetune_train.csv", "rb") as f:
    packed.write_bytes(compress(f.read()))
  with pytest.raises(FinetuneError, match=rf"'{packed}' is {kind}-compressed, which TensorFlow's "
                                          r"readers do not read .* recompress it with gzip"):
    check(tmp_path, packed, [f"MODULE_HANDLE = '{digits_module}'"])


def test_a_tab_separated_file_with_its_delimiter_set_is_read(tmp_path, digits_module):
  tabs = tmp_path / "train.tsv"
  with open(builders.DIGITS_DATA + "/finetune_train.csv") as f:
    tabs.write_text(f.read().replace(",", "\t"))
  evals = tmp_path / "eval.tsv"
  with open(builders.DIGITS_DATA + "/finetune_eval.csv") as f:
    evals.write_text(f.read().replace(",", "\t"))
  check(tmp_path, tabs, [f"MODULE_HANDLE = '{digits_module}'", "csv_data.field_delim = '\\t'",
                         f"csv_data.eval_files = '{evals}'"])
  shutil.rmtree(tmp_path / "model", ignore_errors=True)
