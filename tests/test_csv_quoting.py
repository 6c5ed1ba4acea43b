"""CSV quoting that TensorFlow's reader cannot read (it takes one line per record): a line break
inside quotes, an unclosed quote, a quote inside an unquoted field. Found before training, with
file and line, nothing written; quoting TensorFlow reads passes."""

import os

import pytest

from finetune import api
from finetune.errors import FinetuneError
from finetune.inputs import scan
from tests import builders

TRAIN_CSV = os.path.join(builders.DIGITS_DATA, "finetune_train.csv")


@pytest.mark.parametrize("line, fault", [
    ('"1\n2"', "a quoted field is not closed on its line"),
    ('"1', "a quoted field is not closed on its line"),
    ('1"2', "a quote inside an unquoted field"),
    ('"1"2', "text follows a closing quote"),
])
def test_quoting_faults_are_refused_before_training(tmp_path, digits_module, line, fault):
  with open(TRAIN_CSV) as f:
    lines = f.read().splitlines()[:20]
  fields = lines[5].split(",")
  lines[5] = ",".join([line] + fields[1:])
  bad = tmp_path / "train.csv"
  bad.write_text("\n".join(lines) + "\n")
  with pytest.raises(FinetuneError, match=f"Line 6 of {bad}: {fault}.* one line per record"):
    api.train(["digits/finetune.gin"], [f"MODULE_HANDLE = '{digits_module}'",
                                        f"csv_data.train_files = '{bad}'"],
              model_dir=str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("line", ['1,"a,b",3', '1,"a""b",3', '"",""', 'a,"b"', ',,'])
def test_quoting_tensorflow_reads_passes(line):
  assert scan.quoting_fault(line, ",") is None
