"""A trial's own request to die with its sweep (children.py), without a sweep or TensorFlow."""

import os
import signal
import subprocess
import sys

import pytest

from finetune.trials import children
from tests import helpers

SLEEPER = "from finetune.trials import children; children.die_with_parent(); import time; " \
          "time.sleep(60); print('outlived')"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_trial_whose_sweep_died_before_its_request_stops_at_once():
  gone = 2**22 + 1  # above pid_max's default: not this child's parent
  result = subprocess.run([sys.executable, "-c", SLEEPER],
                          cwd=helpers.REPO,
                          env=dict(os.environ, **{children.PARENT_ENV: str(gone)}),
                          capture_output=True,
                          text=True,
                          timeout=50)
  assert result.returncode == -signal.SIGTERM and "outlived" not in result.stdout


def test_trials_start_in_a_session_of_their_own_naming_their_sweep():
  kwargs = children.popen_kwargs({"PATH": "/bin"})
  assert kwargs["start_new_session"] is True
  assert kwargs["env"] == {"PATH": "/bin", children.PARENT_ENV: str(os.getpid())}


def test_without_the_variable_nothing_is_requested():
  code = "from finetune.trials import children; children.die_with_parent(); print('ran')"
  env = {k: v for k, v in os.environ.items() if k != children.PARENT_ENV}
  result = subprocess.run([sys.executable, "-c", code], cwd=helpers.REPO, env=env,
                          capture_output=True, text=True, timeout=50)
  assert result.returncode == 0 and result.stdout.strip() == "ran"
