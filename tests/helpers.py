"""What the tests share: the repository, running commands and experiments, reading
checkpoints and exports, a local HTTP server for module archives, waiting for a condition."""

import contextlib
import csv
import http.server
import os
import socket
import subprocess
import sys
import threading
import time

import gin
import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

from finetune import config
from finetune import experiment
from finetune.inputs.arrays import ArrayData
from finetune.training import heads
from tests import builders

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(model_dir,
        handle,
        bindings=(),
        train_steps=30,
        schedule="train_and_evaluate",
        n_classes=5,
        data=None,
        head=None,
        train_hooks=(),
        **module_kwargs):
  """Fine-tunes `handle` on digits 5-9 arrays; gin `bindings` tune the rest (the pieces are
  wired by configs/base/plumbing.gin, as for every config)."""
  module_bindings = [f"hub_module.{k} = {v!r}" for k, v in dict(module_kwargs,
                                                                  handle=handle).items()]
  gin.parse_config_files_and_bindings([os.path.join(config.CONFIG_DIR, config.PLUMBING)],
                                      [f"training.train_steps = {train_steps}"] +
                                      module_bindings + list(bindings),
                                      finalize_config=False)
  if data is None:
    train, eval_ = builders.finetune_arrays()
    data = ArrayData(train=train, eval=eval_, batch_size=16, seed=1)
  return experiment.run(str(model_dir),
                        schedule,
                        data=data,
                        head=head or heads.multi_class_head(n_classes=n_classes),
                        hooks=train_hooks)


def checkpoint_values(model_dir_or_ckpt):
  """{variable name: value} of the latest checkpoint in a model_dir (or a checkpoint path)."""
  path = model_dir_or_ckpt
  if tf.io.gfile.isdir(path):
    path = tf.train.latest_checkpoint(path)
  reader = tf.train.load_checkpoint(path)
  return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def checkpoint_step(model_dir):
  latest = tf.train.latest_checkpoint(str(model_dir))
  return int(latest.rsplit("-", 1)[1]) if latest else -1


def module_values(module_dir):
  """{variable name: value} stored in an exported hub module."""
  return checkpoint_values(os.path.join(module_dir, "variables", "variables"))


def module_outputs(module_dir, pixels, signature="default", tags=None):
  """Runs an exported module on `pixels` in a fresh graph with plain hub.Module."""
  with tf.Graph().as_default():
    module = hub.Module(module_dir, tags=tags)
    out = module({"pixels": tf.constant(pixels)}, signature=signature)
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      return session.run(out)


def fine_tuned_outputs(original_module, checkpoint, pixels):
  """The original module's graph with the variables restored from a training checkpoint."""
  with tf.Graph().as_default():
    module = hub.Module(original_module, name="module")
    out = module({"pixels": tf.constant(pixels)})
    saver = tf.compat.v1.train.Saver(var_list={v.op.name: v for v in module.variables})
    with tf.compat.v1.Session() as session:
      saver.restore(session, checkpoint)
      return session.run(out)


def latest_subdir(path):
  stamps = sorted(e for e in os.listdir(path) if e.isdigit())
  return os.path.join(path, stamps[-1])


def moved(before, after, atol=1e-7):
  return not np.allclose(before, after, atol=atol)


def python_module(module, *args, timeout=600, cwd=REPO, env=None):
  """Runs `python -m module args` (from the repository root), as a user would."""
  return subprocess.run([sys.executable, "-m", module, *args],
                        cwd=cwd,
                        capture_output=True,
                        text=True,
                        timeout=timeout,
                        env=env)


def wait_for(predicate, timeout=300, poll_secs=0.05):
  """Waits until predicate() is true (a condition, never a duration); False on timeout."""
  deadline = time.time() + timeout
  while time.time() < deadline:
    if predicate():
      return True
    time.sleep(poll_secs)
  return False


@contextlib.contextmanager
def serve(tarball, delay_secs=0.0, content_type=None):
  """Serves `tarball` (any file, with `content_type` if given) for any path ending in .tar.gz
  or asking ?tf-hub-format=compressed."""
  requests = []

  class Handler(http.server.BaseHTTPRequestHandler):

    def do_GET(self):  # noqa: N802  (http.server's name)
      requests.append(self.path)
      if not (self.path.endswith(".tar.gz") or "tf-hub-format=compressed" in self.path):
        self.send_error(404)
        return
      time.sleep(delay_secs)
      with open(tarball, "rb") as f:
        body = f.read()
      self.send_response(200)
      self.send_header("Content-Length", str(len(body)))
      if content_type:
        self.send_header("Content-Type", content_type)
      self.end_headers()
      self.wfile.write(body)

    def log_message(self, *args):
      pass

  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
  finally:
    server.shutdown()
    server.server_close()


@contextlib.contextmanager
def silent_server():
  """A URL whose server accepts connections and never answers (the kernel completes the
  connection on a listening socket that nobody reads from)."""
  listener = socket.socket()
  listener.bind(("127.0.0.1", 0))
  listener.listen(16)
  try:
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
  finally:
    listener.close()


@contextlib.contextmanager
def serve_slowly(tarball, chunk_bytes=2048, chunk_secs=0.05, hold=None):
  """Serves `tarball` in chunks with pauses; with `hold` (a threading.Event), the answer
  stops after the first chunk until hold is set: a download that is under way."""
  requests = []

  class Handler(http.server.BaseHTTPRequestHandler):

    def do_GET(self):  # noqa: N802  (http.server's name)
      requests.append(self.path)
      with open(tarball, "rb") as f:
        body = f.read()
      self.send_response(200)
      self.send_header("Content-Length", str(len(body)))
      self.end_headers()
      for start in range(0, len(body), chunk_bytes):
        try:
          self.wfile.write(body[start:start + chunk_bytes])
          self.wfile.flush()
        except OSError:
          return  # the client is gone
        if hold is not None:
          hold.wait()
        time.sleep(chunk_secs)

    def log_message(self, *args):
      pass

  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
  server.daemon_threads = True
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
  finally:
    if hold is not None:
      hold.set()
    server.shutdown()
    server.server_close()


def run_sweep(*args, check=True):
  """`python -m finetune.sweep ARGS`; by default it must succeed."""
  result = python_module("finetune.sweep", *args)
  if check:
    assert result.returncode == 0, result.stdout + result.stderr
  return result


def sweep_results(sweep_dir):
  """The rows of SWEEP_DIR/results.csv."""
  with open(os.path.join(sweep_dir, "results.csv")) as f:
    return list(csv.DictReader(f))


def command_count(trial_dir):
  """How many commands ran in a trial (its command_lines.txt)."""
  path = os.path.join(trial_dir, "command_lines.txt")
  return len(open(path).read().splitlines()) if os.path.exists(path) else 0
