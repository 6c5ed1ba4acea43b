"""finetune: Gin-configured tf.estimator fine-tuning of TF1 Hub format modules.

The Python API is `finetune.api` (train, inspect, sweep, collect); mistakes raise
`finetune.FinetuneError`. The package import is kept free of TensorFlow so that the commands
can quiet TensorFlow's logs before it loads; `finetune.registry` imports every module that
registers a gin configurable.
"""

from finetune.errors import FinetuneError  # noqa: F401

__version__ = "0.1.0"
