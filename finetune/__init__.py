"""finetune: Gin-configured tf.estimator fine-tuning of TF1 Hub format modules.

The package import is kept free of TensorFlow so that the command can quiet TensorFlow's
logs before it loads. `finetune.config` imports every module that registers configurables.
"""

__version__ = "0.1.0"
