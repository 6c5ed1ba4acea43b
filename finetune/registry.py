"""Imports every module that registers a gin configurable, so that a config can name them all.

    experiment                          experiment.py
    training, evaluation, early_stopping  settings.py
    hub_module                          modules/hub_module.py
    download (timeouts, progress)       modules/downloads.py
    csv_data, tfrecord_data, image_folder_data, Augmentation, bert_tokenization   inputs/
    multi_class_head, binary_class_head, multi_label_head, regression_head   training/heads.py
    token_tagging_head                  training/tagging_head.py
    head_network, optimization, learning_rate_schedule, AdamWOptimizer       training/
    run_config, estimator_runtime, tpu_runtime                               runtime/
    prediction                          prediction/settings.py
"""

# pylint: disable=unused-import
from finetune import experiment  # noqa: F401
from finetune import settings  # noqa: F401
from finetune.inputs import csv_data  # noqa: F401
from finetune.inputs import image_folder  # noqa: F401
from finetune.inputs import image_ops  # noqa: F401
from finetune.inputs import tokenization  # noqa: F401
from finetune.inputs import tfrecord_data  # noqa: F401
from finetune.modules import downloads  # noqa: F401
from finetune.modules import hub_module  # noqa: F401
from finetune.prediction import settings as prediction_settings  # noqa: F401
from finetune.runtime import estimators  # noqa: F401
from finetune.runtime import run_config  # noqa: F401
from finetune.runtime import tpu  # noqa: F401
from finetune.training import head_network  # noqa: F401
from finetune.training import heads  # noqa: F401
from finetune.training import learning_rates  # noqa: F401
from finetune.training import optimization  # noqa: F401
from finetune.training import optimizers  # noqa: F401
from finetune.training import tagging_head  # noqa: F401
