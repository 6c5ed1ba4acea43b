"""The binding check's reading of gin values: macros (also of macros), scoped bindings,
references called or not, and what each annotation accepts."""

import pytest

from finetune import config
from finetune.errors import FinetuneError

DIGITS = "digits/finetune.gin"


@pytest.mark.parametrize("bindings, message", [
    (["A = [1]", "TRAIN_STEPS = %A"], "training.train_steps = %TRAIN_STEPS is a list; it takes "
     "an integer."),
    (["scoped/head_network.hidden_units = 8"], "head_network.hidden_units = 8 is an integer; it "
     "takes a list of integers."),
    (["optimization.optimizer = @tf.train.AdamOptimizer()"], "optimization.optimizer = "
     "@tf.train.AdamOptimizer() is @AdamOptimizer(); it takes a function or class (e.g. "
     "@tf.nn.relu) (@AdamOptimizer() builds an instance; write @AdamOptimizer for the class "
     "itself)."),
    (["experiment.head = @binary_class_head"], "(@binary_class_head is the configurable itself; "
     "@binary_class_head() builds one)"),
    (["tfrecord_data.label_spec = ('int', 3)"], "it takes a pair (a string, a list of "
     "integers)"),
    (["hub_module.trusted = 'yes'"], "it takes True or False (unquoted)."),
])
def test_a_value_of_the_wrong_kind_is_named_with_what_the_parameter_takes(bindings, message):
  with pytest.raises(FinetuneError) as raised:
    config.parse([DIGITS], bindings)
  assert message in str(raised.value), str(raised.value)


@pytest.mark.parametrize("bindings", [
    ["A = 5", "B = %A", "TRAIN_STEPS = %B"],
    ["optimization.optimizer = @tf.train.AdamOptimizer"],
    ["optimization.learning_rate = 0.01"],
    ["head_network.hidden_units = (8, 4)", "head_network.activation = @tf.nn.tanh"],
    ["csv_data.train_files = ['a.csv', 'b.csv']", "hub_module.handle = None"],
    ["experiment.head = @multi_class_head()", "multi_class_head.n_classes = 3"],
    # A scope entered by a reference; its bindings reach what that call builds.
    ["experiment.module = @text/hub_module()", "text/hub_module.output_key = 'default'"],
    ["A = @outer/inner/head_network()", "experiment.head_network = %A",
     "outer/inner/head_network.dropout = 0.2"],
])
def test_values_of_the_right_kind_pass(bindings):
  config.parse([DIGITS], bindings)


@pytest.mark.parametrize("bindings, message", [
    (["foo/hub_module.handle = 'x'"], "foo/hub_module.handle is bound in scope 'foo', which no "
     "reference in the config enters (a scope is entered by a reference such as "
     "@foo/hub_module()), so gin would never apply it. The config enters no scope. For the "
     "setting without a scope, write hub_module.handle."),
    (["experiment.module = @text/hub_module()", "txt/hub_module.handle = 'x'"],
     "The scopes the config enters are: text. Did you mean text?"),
    (["experiment.module = @text/hub_module()", "text/other/hub_module.handle = 'x'"],
     "bound in scope 'other'"),
])
def test_a_binding_in_a_scope_nothing_enters_is_refused(bindings, message):
  with pytest.raises(FinetuneError) as raised:
    config.parse([DIGITS], bindings)
  assert message in str(raised.value), str(raised.value)
