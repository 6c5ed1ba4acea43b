"""Every example runs whole, as the README tells a user to run it."""

import pytest

from examples.digits import build_modules
from examples.digits import compare
from tests import helpers
from tests.error_cases import run_command


def run(module, *args):
  result = helpers.python_module(module, *args)
  assert result.returncode == 0, result.stdout + result.stderr
  return result.stdout


@pytest.fixture(scope="module")
def digits_example_modules(tmp_path_factory):
  """The default example's modules, built by its command: (their folder, its output). The
  tests that use them only read them."""
  modules = tmp_path_factory.mktemp("digits_example") / "modules"
  return modules, run("examples.digits.build_modules", f"--output_dir={modules}")


def test_default_example_builds_modules_and_fine_tunes(tmp_path, capsys, digits_example_modules):
  modules, out = digits_example_modules
  assert "digits_pretrained: exported" in out and "digits_untrained: exported" in out
  # Run again, the command keeps them: its build(), called here in-process, says so.
  capsys.readouterr()
  build_modules.build(str(modules))
  assert "exists" in capsys.readouterr().out
  out = run("finetune.train", "--gin_file=digits/finetune.gin",
            f"--gin_bindings=MODULE_HANDLE = '{modules}/digits_pretrained'",
            f"--model_dir={tmp_path / 'run'}")
  accuracy = float(next(l for l in out.splitlines() if l.strip().startswith("accuracy")).split()[1])
  assert accuracy > 0.8, out  # even/odd from 40 labels, with the pretrained digit reader
  assert f"{tmp_path}/run/export/hub/" in out and "digits_pretrained" in out


def test_compare_script_runs_all_three_settings(tmp_path, digits_example_modules):
  results = compare.compare(str(tmp_path / "runs"),
                            str(digits_example_modules[0]),  # built already: kept as they are
                            repeats=1,
                            train_steps=20)
  assert [label.split()[0] for label, _ in results] == ["fine-tuned", "frozen", "from"]
  table = compare.markdown(results)
  assert table.count("\n") == 4 and "| frozen (trainable=False) |" in table


def test_image_example_builds_and_fine_tunes_both_image_signatures(tmp_path, capsys):
  out = run("examples.images.build", f"--output_dir={tmp_path}", "--steps=100")
  assert "image modules exported" in out
  for gin_file, module in (("images/feature_vector.gin", "image_feature_vector"),
                           ("images/classification.gin", "image_classification")):
    args = [f"--gin_file={gin_file}",
            f"--gin_bindings=MODULE_HANDLE = '{tmp_path}/modules/{module}'",
            f"--gin_bindings=TRAIN_DIR = '{tmp_path}/parity/train'",
            f"--gin_bindings=EVAL_DIR = '{tmp_path}/parity/eval'",
            "--gin_bindings=TRAIN_STEPS = 60", f"--model_dir={tmp_path / module}"]
    if module == "image_feature_vector":
      out = run("finetune.train", *args)
    else:  # the same command's main in this process: its start-up is tested just above
      code, captured = run_command(args, capsys)
      assert code == 0, captured.out + captured.err
      out = captured.out
    assert "Final metrics:" in out and f"/export/hub/" in out and module in out


def test_text_example_builds_and_fine_tunes(tmp_path):
  out = run("examples.text.build", f"--output_dir={tmp_path}", "--vocab_size=1000")
  assert "docstring_embedding: exported" in out
  out = run("finetune.train", "--gin_file=text/embedding.gin",
            f"--gin_bindings=MODULE_HANDLE = '{tmp_path}/modules/docstring_embedding'",
            "--gin_bindings=TRAIN_STEPS = 100", f"--model_dir={tmp_path / 'run'}")
  accuracy = float(next(l for l in out.splitlines() if l.strip().startswith("accuracy")).split()[1])
  assert accuracy > 0.4, out  # four areas; the largest class alone is about 0.3


def test_bert_example_builds_pretrains_and_compares_three_settings(tmp_path):
  from examples.bert import compare as bert_compare  # pylint: disable=g-import-not-at-top
  out = run("examples.bert.build", f"--output_dir={tmp_path}", "--tiny")
  assert (tmp_path / "modules" / "bert_pretrained" / "tfhub_module.pb").exists(), out
  assert (tmp_path / "modules" / "bert_untrained" / "assets" / "vocab.txt").exists()
  results = bert_compare.compare(str(tmp_path / "modules"), str(tmp_path / "runs"),
                                 "text/bert_classifier.gin", repeats=1, train_steps=5,
                                 # the comparison reads final metrics: no best-module export
                                 extra_bindings=["MAX_SEQ_LENGTH = 16",
                                                 "evaluation.best_export_metric = None"])
  assert [label.split()[0] for label, _ in results] == ["fine-tuned", "frozen", "from"]
  for module, trainable in (("bert_pretrained", True), ("bert_pretrained", False),
                            ("bert_untrained", True)):
    run_dir = tmp_path / "runs" / "bert_classifier" / f"{module}-{trainable}" / "0"
    assert helpers.checkpoint_values(str(run_dir))["global_step"] == 5
    operative = (run_dir / "operative_config.gin").read_text()
    assert f"hub_module.trainable = {trainable}" in operative and module in operative
  assert all(0.0 <= accuracies[0] <= 1.0 for _, accuracies in results)
  assert "| frozen (pretrained, trainable=False) |" in bert_compare.markdown(results)
