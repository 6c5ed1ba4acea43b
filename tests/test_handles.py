"""Module handles beyond local paths: file://, and http(s) tarballs resolved and cached the way
tensorflow-hub does (TFHUB_CACHE_DIR), tested against a real HTTP server on 127.0.0.1."""

import os
import socket
import subprocess
import sys

import pytest
import tensorflow as tf

from finetune.errors import FinetuneError
from finetune.modules.hub_module import HubModule
from tests import builders
from tests import helpers



@pytest.fixture
def tarball(tmp_path, digits_module):
  return builders.make_tarball(digits_module, str(tmp_path / "digits.tar.gz"))


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
  path = tmp_path / "hub_cache"
  monkeypatch.setenv("TFHUB_CACHE_DIR", str(path))
  return path


def cached_modules(cache_dir):
  return sorted(e for e in os.listdir(cache_dir) if not e.endswith(".descriptor.txt"))


def test_http_tarball_downloads_once_then_loads_from_cache(tarball, cache_dir):
  with helpers.serve(tarball) as (url, requests):
    module = HubModule(handle=f"{url}/models/digits.tar.gz")
    assert set(module.spec.get_signature_names()) == {"default", "classifier"}
    assert [r.split("?")[0] for r in requests] == ["/models/digits.tar.gz"]
  entries = cached_modules(cache_dir)
  assert len(entries) == 1
  assert os.path.exists(cache_dir / entries[0] / "tfhub_module.pb")
  # The server is gone: a new resolution of the same handle comes from the cache.
  again = HubModule(handle=f"{url}/models/digits.tar.gz")
  assert set(again.spec.get_signature_names()) == {"default", "classifier"}
  assert again.export_name == "digits"


def test_compressed_format_query_convention(tarball, cache_dir):
  with helpers.serve(tarball) as (url, requests):
    module = HubModule(handle=f"{url}/google/digits/1")
    assert "default" in module.spec.get_signature_names()
  assert requests == ["/google/digits/1?tf-hub-format=compressed"]


def test_fine_tune_from_http_handle(tmp_path, tarball, cache_dir):
  with helpers.serve(tarball) as (url, _):
    metrics = helpers.run(tmp_path / "model", f"{url}/digits.tar.gz", train_steps=3)
  assert metrics["global_step"] == 3
  exported = os.listdir(helpers.latest_subdir(str(tmp_path / "model" / "export" / "hub")))
  assert exported == ["digits"]


def test_two_processes_resolving_at_once_share_one_complete_copy(tarball, cache_dir):
  # finetune's resolvers (its download lock and checks), as load_spec installs them.
  code = ("import sys, tensorflow_hub as hub; from finetune.modules import resolvers; "
          "resolvers.install(); print(hub.resolve(sys.argv[1]))")
  with helpers.serve(tarball, delay_secs=1.0) as (url, requests):
    handle = f"{url}/digits.tar.gz"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, handle],
                         cwd=helpers.REPO,
                         stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE,
                         text=True,
                         env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")) for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
  assert [p.returncode for p in procs] == [0, 0], outputs
  paths = {out.strip().splitlines()[-1] for out, _ in outputs}
  assert len(paths) == 1
  entries = cached_modules(cache_dir)
  assert len(entries) == 1, entries  # no lock files or partial downloads left behind
  assert os.path.exists(os.path.join(paths.pop(), "tfhub_module.pb"))
  assert len(requests) >= 1


def test_file_url_handle(digits_module):
  module = HubModule(handle="file://" + digits_module)
  assert "default" in module.spec.get_signature_names()


def test_unreachable_url_names_the_handle(cache_dir):
  with socket.socket() as bound:  # bound, never listening: refuses connections, and no other
    bound.bind(("127.0.0.1", 0))  # process can take the port meanwhile
    url = f"http://127.0.0.1:{bound.getsockname()[1]}"
    with pytest.raises(FinetuneError, match=f"Could not load module '{url}/gone.tar.gz'"):
      _ = HubModule(handle=f"{url}/gone.tar.gz").spec


def test_a_web_page_instead_of_an_archive_is_named(tmp_path, cache_dir):
  page = tmp_path / "page.html"
  page.write_text("<!DOCTYPE html><html><body>Sign in to download</body></html>")
  with helpers.serve(str(page), content_type="text/html; charset=utf-8") as (url, _):
    with pytest.raises(FinetuneError) as raised:
      _ = HubModule(handle=f"{url}/google/digits/1").spec
  assert (f"Refused the download of '{url}/google/digits/1': the server answered with text/html;"
          " charset=utf-8 ('<!DOCTYPE html><html><body>Sign in to download</...'), not a "
          "module archive (.tar.gz: ") in str(raised.value), str(raised.value)
  assert "Nothing was kept in the cache." in str(raised.value)
  assert not os.path.exists(cache_dir) or cached_modules(cache_dir) == []


def copy_tree_with_gfile(src, dst):
  for root, _, files in os.walk(src):
    for name in files:
      path = os.path.join(root, name)
      target = dst + "/" + os.path.relpath(path, src)
      tf.io.gfile.makedirs(os.path.dirname(target))
      tf.io.gfile.copy(path, target, overwrite=True)


def test_module_on_a_tf_io_gfile_filesystem_resolves_and_validates(digits_module):
  """ram:// is resolved through tf.io.gfile as gs:// is (there is no network here for gs://).

  Only the spec is loaded: ram:// reports "variables/variables" as a directory (any prefix of
  a file is one there), which sends TensorFlow's checkpoint reader astray; GCS does not.
  """
  handle = "ram://finetune_test/digits"
  copy_tree_with_gfile(digits_module, handle)
  module = HubModule(handle=handle)
  module.validate({"pixels": tf.TensorSpec([64], tf.float32)})
  assert module.train_tags == {"train"} and module.export_name == "digits"


@pytest.mark.parametrize("name, content, message", [
    ("saved_model.pb", b"\x08\x96\x01 this is not a protocol buffer",
     "saved_model.pb) does not read as a SavedModel (DecodeError"),
    ("saved_model.pb", b"", "saved_model.pb) is empty (0 bytes)"),
    ("saved_model.pb", b"\x08\x01", "saved_model.pb) holds no graph"),
    ("tfhub_module.pb", b"", "tfhub_module.pb) is empty (0 bytes)"),
    ("tfhub_module.pb", b"garbage\x00\xff garbage", "tfhub_module.pb) is not a TF1 Hub module "
     "definition (DecodeError"),
    ("tfhub_module.pb", b"\x08\x07", "tfhub_module.pb) declares module format 7, and "
     "tensorflow_hub reads only format 3"),
])
def test_a_damaged_module_file_is_named(tmp_path, digits_module, name, content, message):
  broken = tmp_path / "broken"
  copy_tree_with_gfile(digits_module, str(broken))
  (broken / name).write_bytes(content)
  with pytest.raises(FinetuneError) as raised:
    _ = HubModule(handle=str(broken)).spec
  assert f"Module '{broken}': its {name} ({broken / name}" in str(raised.value)
  assert message in str(raised.value), str(raised.value)
  assert "Export the module again" in str(raised.value)


def test_allowed_prefixes_compare_whole_normalized_paths(tmp_path):
  from finetune.modules.handles import check_allowed  # pylint: disable=g-import-not-at-top
  allowed = [str(tmp_path / "trusted")]
  check_allowed(str(tmp_path / "trusted" / "m"), allowed)
  check_allowed(f"file://{tmp_path}/trusted/m", allowed)
  for sneaky in (tmp_path / "trusted" / ".." / "elsewhere" / "m", tmp_path / "trusted_evil" / "m"):
    with pytest.raises(FinetuneError, match="is not allowed"):
      check_allowed(str(sneaky), allowed)
  check_allowed("gs://bucket/modules/m", ["gs://bucket/"])
  with pytest.raises(FinetuneError, match="is not allowed"):
    check_allowed("gs://bucket-evil/m", ["gs://bucket"])
