"""What SIGTERM and SIGINT do inside a StopSignal: outside training steps they interrupt at
once (with the phase in the message), during training they ask for a clean stop, which a
further SIGTERM keeps and a Ctrl-C turns into an interruption; the previous handlers come back
afterwards. And the command, signalled
while it builds the graph or writes an export, ends with one line and leaves nothing half-done
that the next run keeps (downloads: test_downloads.py; training: test_interruption.py)."""

import logging
import os
import signal
import subprocess
import sys

import pytest

from finetune.errors import Interrupted
from finetune.process import signals
from tests import helpers


def send(signum):
  os.kill(os.getpid(), signum)


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_outside_training_a_signal_interrupts_with_the_phase(signum, code):
  with pytest.raises(Interrupted) as caught:
    with signals.StopSignal(), signals.phase("building the graph"):
      send(signum)
      assert helpers.wait_for(lambda: False, timeout=10)  # the handler raises meanwhile
  assert caught.value.exit_code == code
  assert str(caught.value).startswith(f"Stopped by {signum.name} while building the graph. ")


@pytest.mark.parametrize("first", [signal.SIGINT, signal.SIGTERM])
def test_during_training_a_signal_asks_for_a_clean_stop_that_sigterm_again_keeps(
    first, caplog, monkeypatch):
  """A scheduler's SIGTERM to every process and the sweep's own often both arrive: the second
  must not turn the clean stop into an unsaved one. Ctrl-C again does (test below)."""
  monkeypatch.setattr(logging.getLogger("finetune"), "propagate", True)  # to caplog
  with signals.StopSignal() as stop:
    stop.training = True  # what the StopHook sets once the training session exists
    send(first)
    assert helpers.wait_for(stop.requested.is_set, timeout=10)
    send(signal.SIGTERM)  # handled (its warning is logged) without raising Interrupted
    assert helpers.wait_for(lambda: "SIGTERM again is ignored" in caplog.text, timeout=10)
  preempted = stop.preempted(7, "model/model.ckpt-7")
  assert preempted.exit_code == 128 + first
  assert str(preempted).startswith(f"Stopped by {first.name} at step 7; the checkpoint is saved")


def test_during_a_clean_stop_ctrl_c_interrupts_at_once():
  with signals.StopSignal() as stop:
    stop.training = True
    send(signal.SIGTERM)
    assert helpers.wait_for(stop.requested.is_set, timeout=10)
    with pytest.raises(Interrupted) as caught:
      send(signal.SIGINT)
      helpers.wait_for(lambda: False, timeout=10)
  assert caught.value.exit_code == 130


def test_a_signal_during_a_held_block_acts_when_the_block_ends():
  done = []
  with pytest.raises(Interrupted) as caught:
    with signals.StopSignal() as stop:
      with signals.held():
        send(signal.SIGTERM)
        # The handler ran and kept the signal for later instead of raising:
        assert helpers.wait_for(lambda: stop.holding[-1] == [signal.SIGTERM], timeout=10)
        done.append("registered")
      helpers.wait_for(lambda: False, timeout=10)  # raised here, sent again
  assert done == ["registered"] and caught.value.exit_code == 143


def test_a_signal_held_during_a_block_that_fails_still_stops():
  with pytest.raises(Interrupted) as caught:
    with signals.StopSignal():
      with signals.held():
        send(signal.SIGINT)
        raise OSError("the trial could not start")
  assert caught.value.exit_code == 130


def test_a_stop_signal_inside_another_names_the_outer_phase():
  """experiment.run enters its StopSignal inside the command's: an interruption still names
  what the command said it was doing."""
  with pytest.raises(Interrupted) as caught:
    with signals.StopSignal(), signals.phase("running trial 3 of the sweep"):
      with signals.StopSignal():
        send(signal.SIGTERM)
        helpers.wait_for(lambda: False, timeout=10)
  assert "while running trial 3 of the sweep" in str(caught.value)


def test_outside_a_stop_signal_phases_and_held_blocks_keep_nothing():
  """No handler of finetune's is installed (a library caller): nothing is recorded anywhere."""
  with signals.phase("downloading a module"), signals.held():
    assert signals.active() is None and signals.current_phase() == (None, None)


def test_previous_handlers_come_back():
  before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
  with signals.StopSignal():
    assert signal.getsignal(signal.SIGTERM) is not before[0]
  assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


# The command, with a signal to itself at a chosen moment: the first model_fn call (building
# the graph) or the rename that completes an export.
SIGNAL_AT = """
import os, signal, sys
import tensorflow as tf
from absl import app
from finetune import train

def signal_then(real):
  def call(*args, **kwargs):
    os.kill(os.getpid(), signal.{signal})
    return real(*args, **kwargs)
  return call

if "{at}" == "graph":  # inside finetune's model_fn, as the module and head are being built
  from finetune.training import model
  model.Model._model_fn = signal_then(model.Model._model_fn)
elif "{at}" == "eval":  # as the evaluation graph is built: after training, the final one
  from finetune.training import model
  real_model_fn = model.Model._model_fn
  def signal_in_eval(self, features, labels, mode):
    if mode == tf.estimator.ModeKeys.EVAL:
      os.kill(os.getpid(), signal.{signal})
    return real_model_fn(self, features, labels, mode)
  model.Model._model_fn = signal_in_eval
else:  # finetune's exporters use tf.io.gfile.rename, hub's LatestModuleExporter Rename
  def signal_before_the_export_completes(real):
    return lambda src, *a, **k: (signal_then(real) if "temp-" in tf.compat.as_str_any(src)
                                 else real)(src, *a, **k)
  tf.io.gfile.rename = signal_before_the_export_completes(tf.io.gfile.rename)
  tf.compat.v1.gfile.Rename = signal_before_the_export_completes(tf.compat.v1.gfile.Rename)
app.run(lambda argv: sys.exit(train.main(argv)), argv=sys.argv)
"""


def command_signalling_itself(at, signum, model_dir, handle, schedule):
  return [
      sys.executable, "-c", SIGNAL_AT.format(signal=signum.name, at=at),
      "--gin_file=digits/finetune.gin", f"--model_dir={model_dir}",
      f"--gin_bindings=MODULE_HANDLE = '{handle}'",
      "--gin_bindings=learning_rate_schedule.warmup_steps = 0", "--gin_bindings=TRAIN_STEPS = 9",
      f"--schedule={schedule}"
  ]


def test_signal_during_the_final_evaluation_ends_the_command_at_once(tmp_path, digits_module):
  """Training steps are over and their last checkpoint saved: a signal now interrupts, as in
  every other phase, instead of asking for a clean stop that nothing would act on."""
  model_dir = tmp_path / "model"
  result = subprocess.run(command_signalling_itself("eval", signal.SIGTERM, model_dir,
                                                    digits_module, "train_and_evaluate"),
                          cwd=helpers.REPO, capture_output=True, text=True, timeout=300)
  assert result.returncode == 143, result.stderr
  assert result.stderr.strip().splitlines()[-1].startswith("finetune: Stopped by SIGTERM"), (
      result.stderr)
  assert helpers.checkpoint_step(model_dir) == 9  # the trained steps are kept


def test_signal_while_building_the_graph_or_exporting_ends_the_command(tmp_path, digits_module):
  model_dir = tmp_path / "model"
  runs = [("graph", signal.SIGTERM, "train", 143, "building the graph"),
          ("export", signal.SIGINT, "export", 130, "exporting the fine-tuned module (hub)"),
          # an export builds its graph through the model_fn: the export's phase is named
          ("graph", signal.SIGTERM, "export", 143, "exporting the fine-tuned module (hub)")]
  from finetune import api  # pylint: disable=g-import-not-at-top
  # The model_dir to signal in, trained in this process (what is signalled is a command).
  api.train(["digits/finetune.gin"], [f"MODULE_HANDLE = '{digits_module}'",
                                      "learning_rate_schedule.warmup_steps = 0",
                                      "TRAIN_STEPS = 2"],
            model_dir=str(model_dir), schedule="train")
  exports_before = sorted(os.listdir(model_dir / "export" / "hub")) if (
      model_dir / "export" / "hub").exists() else []
  for at, signum, schedule, code, phase in runs:
    result = subprocess.run(command_signalling_itself(at, signum, model_dir, digits_module,
                                                      schedule),
                            cwd=helpers.REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"finetune: Stopped by {signum.name} while {phase}. Run the same "
                           "command"), last
    assert not (model_dir / ".finetune.lock").exists()
  assert helpers.checkpoint_step(model_dir) == 2  # the checkpoint is as it was
  finished = [e for e in os.listdir(model_dir / "export" / "hub") if not e.startswith("temp-")]
  assert sorted(finished) == exports_before  # the interrupted export is not a finished one
  # The next export (as `--schedule=export` runs it, here in this process) finishes its own.
  api.train(["digits/finetune.gin"], [f"MODULE_HANDLE = '{digits_module}'"],
            model_dir=str(model_dir), schedule="export")
  assert not [e for e in os.listdir(model_dir / "export" / "hub") if e.startswith("temp-")]
