"""Where gin files come from: a URL scheme TensorFlow cannot read (https://) is one line with
the fix, for a --gin_file and for an include (issue 22)."""

import pytest

from finetune import config
from finetune.errors import FinetuneError


def test_a_gin_file_given_as_an_https_url_is_refused_with_the_fix():
  with pytest.raises(FinetuneError, match=r"^Gin file 'https://127.0.0.1:1/x.gin': gin files are "
                                          r"read from local paths .*curl -LO"):
    config.parse(["https://127.0.0.1:1/x.gin"], [])


def test_an_include_of_an_https_url_names_the_including_file(tmp_path):
  including = tmp_path / "task.gin"
  including.write_text("include 'https://127.0.0.1:1/base.gin'\n")
  with pytest.raises(FinetuneError, match=rf"^{including}: include 'https://127.0.0.1:1/"
                                          r"base.gin': .* not 'https://'"):
    config.parse([str(including)], [])
