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
])
def test_values_of_the_right_kind_pass(bindings):
  config.parse([DIGITS], bindings)
