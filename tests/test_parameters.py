"""docs/parameters.md is the code's gin parameters, up to date and with a meaning each."""

import os

from finetune import parameters
from tests import helpers

PAGE = os.path.join(helpers.REPO, "docs", "parameters.md")


def test_the_reference_page_is_up_to_date():
  with open(PAGE) as f:
    page = f.read()
  assert page == parameters.markdown(), (
      "docs/parameters.md is out of date: python -m finetune.parameters "
      "--output=docs/parameters.md")


def test_every_parameter_says_what_it_means():
  undescribed = [f"{name}.{parameter}"
                 for name, configurable in parameters.configurables()
                 for parameter, _, meaning in parameters.parameters(configurable)
                 if not meaning]
  assert not undescribed, "add these to their docstring's Args: " + ", ".join(undescribed)


def test_keyword_options_passed_to_a_base_class_are_listed():
  """The data sources take the pipeline options through **kwargs: gin accepts them, so the
  reference lists them, with the base class's defaults."""
  rows = {name: {p: default for p, default, _ in parameters.parameters(c)}
          for name, c in parameters.configurables()}
  for source in ("csv_data", "tfrecord_data", "image_folder_data"):
    assert rows[source]["batch_size"] == "32" and rows[source]["seed"] == "None", source
  assert rows["hub_module"]["handle"] == "required"
  assert "model_dir" not in rows["experiment"]  # denylisted: a flag, not a gin parameter


def test_base_config_values_are_shown_beside_the_code_defaults():
  values = parameters.base_values()
  assert values[("experiment", "runtime")] == "@estimator_runtime()"
  assert values[("training", "steps_per_run")] == "10"
