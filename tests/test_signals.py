"""What SIGTERM and SIGINT do inside a StopSignal, in this process: outside training steps
they interrupt at once (with the phase in the message), during training they ask for a clean
stop, and a second signal then interrupts; the previous handlers come back afterwards."""

import os
import signal

import pytest

from finetune.errors import Interrupted
from finetune.runtime import signals
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


def test_during_training_the_first_signal_asks_for_a_clean_stop_the_second_interrupts():
  with signals.StopSignal() as stop:
    stop.training = True  # what the StopHook sets once the training session exists
    send(signal.SIGINT)
    assert helpers.wait_for(stop.requested.is_set, timeout=10)
    with pytest.raises(Interrupted):
      send(signal.SIGTERM)
      helpers.wait_for(lambda: False, timeout=10)
  preempted = stop.preempted(7, "model/model.ckpt-7")
  assert preempted.exit_code == 130
  assert str(preempted).startswith("Stopped by SIGINT at step 7; the checkpoint is saved")


def test_previous_handlers_come_back():
  before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
  with signals.StopSignal():
    assert signal.getsignal(signal.SIGTERM) is not before[0]
  assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
