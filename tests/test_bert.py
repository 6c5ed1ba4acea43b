"""BERT-family modules from raw text: the module's own tokenizer (checked against a reference
WordPiece implementation), sentence pairs, pooled and per-word outputs, serving on raw text in
a fresh process, and a sweep over modules with different vocabularies."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from finetune import FinetuneError
from finetune import api
from finetune.inputs.tokenization import BertTokenization
from finetune.modules.hub_module import HubModule
from tests import builders
from tests import helpers
from tests import reference_wordpiece

TEXT_DATA = os.path.join(helpers.REPO, "examples", "text", "data")


def task_lines(split="train"):
  with open(os.path.join(TEXT_DATA, f"task_{split}.csv")) as f:
    return [row["text"] for row in csv.DictReader(f)]


@pytest.fixture
def bert(bert_module):
  return bert_module


def vocabulary(handle):
  with open(os.path.join(handle, "assets", "vocab.txt")) as f:
    return {token: i for i, token in enumerate(line.rstrip("\n") for line in f)}


def tokenize(handle, max_seq_length, texts_a, texts_b=None):
  columns = ["a"] if texts_b is None else ["a", "b"]
  tokenization = BertTokenization(columns, max_seq_length=max_seq_length)
  tokenization.adapt_to_module(HubModule(handle=handle, signature="tokens"))
  with tf.Graph().as_default():
    features = {"a": tf.constant(texts_a)}
    if texts_b is not None:
      features["b"] = tf.constant(texts_b)
    with tf.compat.v1.Session() as session:
      return session.run(tokenization(features))


def test_tokenization_agrees_with_reference_wordpiece(bert):
  vocab = vocabulary(bert)
  lines = task_lines("eval")
  single = tokenize(bert, 24, lines)  # 24: long lines are truncated
  pairs = tokenize(bert, 32, lines[:-1], lines[1:])
  truncated = 0
  for i, line in enumerate(lines):
    ids, mask, segments = reference_wordpiece.bert_inputs(vocab, 24, line)
    assert single["input_ids"][i].tolist() == ids, line
    assert single["input_mask"][i].tolist() == mask
    assert single["segment_ids"][i].tolist() == segments
    truncated += len(reference_wordpiece.tokenize(line, vocab)) > 22
  for i, (a, b) in enumerate(zip(lines[:-1], lines[1:])):
    ids, mask, segments = reference_wordpiece.bert_inputs(vocab, 32, a, b)
    assert pairs["input_ids"][i].tolist() == ids, (a, b)
    assert pairs["input_mask"][i].tolist() == mask
    assert pairs["segment_ids"][i].tolist() == segments
  assert truncated > 10  # the comparison covered truncation


@pytest.mark.parametrize("lower_case", [True, False])
def test_prebuilt_tokenizer_models_give_tensorflow_texts_own_ids(bert, lower_case):
  """The tokenizer's models are built once per vocabulary (tokenization._fast_bert_models);
  they must tokenize as tensorflow-text's tokenizer built from the vocabulary does."""
  import tensorflow_text as text  # pylint: disable=g-import-not-at-top
  from finetune.inputs import tokenization  # pylint: disable=g-import-not-at-top
  vocab = sorted(vocabulary(bert), key=vocabulary(bert).get)
  words = task_lines("eval")[0].split() + ["Naïve", "WORLD!", "python,", "", "x" * 150, "ÿ"]
  wordpiece, normalizer = tokenization._fast_bert_models(vocab, lower_case)
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    own = text.FastBertTokenizer(vocab=vocab, token_out_type=tf.int32,
                                 lower_case_nfd_strip_accents=lower_case).tokenize(words)
    prebuilt = text.FastBertTokenizer(
        token_out_type=tf.int32,
        fast_wordpiece_model_buffer=tokenization._uint8_constant(wordpiece),
        fast_bert_normalizer_model_buffer=tokenization._uint8_constant(normalizer)).tokenize(words)
    own, prebuilt = session.run([own, prebuilt])
  assert prebuilt.to_list() == own.to_list() and len(own.to_list()) == len(words)


def kept_words(line, vocab, max_seq_length):
  """How many words have their first wordpiece inside max_seq_length (reference tokenizer)."""
  words = line.split()
  before = [len(reference_wordpiece.tokenize(" ".join(words[:w]), vocab)) for w in range(len(words))]
  return sum(p < max_seq_length - 2 for p in before)


def test_word_starts_point_at_each_words_first_wordpiece(bert):
  vocab = vocabulary(bert)
  lines = task_lines("eval")[:50]
  out = tokenize(bert, 16, lines)
  for i, line in enumerate(lines):
    words = line.split()
    kept = 0
    for w, word in enumerate(words[:14]):
      if out["word_mask"][i][w]:
        kept += 1
        first = reference_wordpiece.tokenize(word, vocab)[0]
        assert out["input_ids"][i][out["word_starts"][i][w]] == first, (line, word)
    assert kept == kept_words(line, vocab, 16)  # words whose first piece fits


def test_a_word_with_no_wordpiece_is_counted_but_not_scored(bert):
  """A word of control characters only tokenizes to nothing: it has no position of its own,
  so it is not scored, yet it still takes its tag (word_count counts it)."""
  vocab = vocabulary(bert)
  out = tokenize(bert, 16, ["open \x01\x02 file"])
  assert out["word_count"].tolist() == [3]
  assert out["word_mask"][0][:3].tolist() == [1, 0, 1]
  file_start = out["word_starts"][0][2]
  assert out["input_ids"][0][file_start] == reference_wordpiece.tokenize("file", vocab)[0]
  assert out["word_starts"][0][1] == 0  # points at [CLS], unscored


@pytest.mark.parametrize("pooling", ["first", "mean", "max"])
def test_pooled_sequence_output_ignores_padding(bert, pooling):
  texts = ["Return the sine of x.", "Open a socket connection to a host."]
  outputs = []
  for length in (16, 48):
    module = HubModule(handle=bert, signature="tokens", output_key="sequence_output",
                       pooling=pooling)
    with tf.Graph().as_default():
      features = {k: tf.constant(v) for k, v in tokenize(bert, length, texts).items()}
      pooled = module(features, tf.estimator.ModeKeys.PREDICT)
      with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        outputs.append(session.run(pooled))
  assert outputs[0].shape == (2, 16)
  np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)


def classifier_bindings(handle, steps=20, *more):
  return [f"MODULE_HANDLE = '{handle}'", f"TRAIN_STEPS = {steps}", "MAX_SEQ_LENGTH = 32",
          "learning_rate_schedule.warmup_steps = 0", "run_config.save_checkpoints_steps = 20",
          *more]


SERVE = """
import sys, json
import tensorflow as tf
if sys.argv[2] == "with_ops":
  import tensorflow_text  # noqa: F401  (registers the tokenizer's ops)
model = tf.saved_model.load(sys.argv[1])
inputs = {k: tf.constant(v) for k, v in json.loads(sys.argv[3]).items()}
out = model.signatures["predict"](**inputs)
print(json.dumps({k: v.numpy().tolist() for k, v in out.items() if v.dtype != tf.string}))
"""


def serve(export, inputs, with_ops=True):
  return subprocess.run([sys.executable, "-c", SERVE, export, "with_ops" if with_ops else "no",
                         json.dumps(inputs)], capture_output=True, text=True, timeout=300)


def test_classifier_trains_on_raw_text_and_serves_raw_text(tmp_path, bert):
  result = api.train(["text/bert_classifier.gin"], classifier_bindings(bert),
                     model_dir=str(tmp_path / "model"))
  assert result.metrics["global_step"] == 20
  before, after = helpers.module_values(bert), helpers.module_values(result.exports["hub"])
  assert set(before) == set(after)
  assert any(helpers.moved(before[k], after[k]) for k in before)  # fine-tuned, then exported
  texts = ["Return the cosine of x.", "Send a message over a socket."]
  with tf.Graph().as_default():
    import tensorflow_hub as hub  # pylint: disable=g-import-not-at-top
    reloaded = hub.Module(result.exports["hub"])  # plain hub.Module: the export is whole
    assert "tokenization_info" in reloaded.get_signature_names()
  answer = serve(result.exports["serving"], {"text": texts})
  assert answer.returncode == 0, answer.stderr[-3000:]
  probabilities = np.array(json.loads(answer.stdout.splitlines()[-1])["probabilities"])
  assert probabilities.shape == (2, 4)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
  without = serve(result.exports["serving"], {"text": texts}, with_ops=False)
  assert without.returncode != 0 and "not registered" in without.stderr


def serve_here(export, inputs):
  """The serving SavedModel's predict signature on `inputs`, in a fresh graph of this process
  (tensorflow-text's ops are registered here already)."""
  with tf.Graph().as_default(), tf.compat.v1.Session() as session:
    signature = tf.compat.v1.saved_model.loader.load(session, ["serve"],
                                                     export).signature_def["predict"]
    fetches = {k: v.name for k, v in signature.outputs.items()
               if v.dtype != tf.string.as_datatype_enum}
    return session.run(fetches, {signature.inputs[k].name: v for k, v in inputs.items()})


def pairs_csv(path, split):
  lines = task_lines(split)
  with open(os.path.join(TEXT_DATA, f"task_{split}.csv")) as f:
    areas = [row["area"] for row in csv.DictReader(f)]
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["sentence1", "sentence2", "label"])
    for i in range(0, len(lines) - 7, 3):
      writer.writerow([lines[i], lines[i + 7], "same" if areas[i] == areas[i + 7] else "different"])
  return str(path)


def test_sentence_pairs_train_and_serve_both_texts(tmp_path, bert):
  result = api.train(["text/bert_pairs.gin"], [
      f"MODULE_HANDLE = '{bert}'", "TRAIN_STEPS = 10", "learning_rate_schedule.warmup_steps = 0",
      f"csv_data.train_files = '{pairs_csv(tmp_path / 'train.csv', 'train')}'",
      f"csv_data.eval_files = '{pairs_csv(tmp_path / 'eval.csv', 'eval')}'"
  ], model_dir=str(tmp_path / "model"))
  assert result.metrics["global_step"] == 10 and "auc" in result.metrics
  # Served in this process (serving in a fresh process: the classifier test above).
  answer = serve_here(result.exports["serving"], {"sentence1": ["Return the sine of x."],
                                                  "sentence2": ["Return the cosine of x."]})
  assert len(answer["probabilities"][0]) == 2


def tags_csv(path, split):
  """Tags by a rule a model can learn from the words: NUM for numbers, CAP for capitalized
  words, WORD otherwise."""
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["text", "tags"])
    for line in task_lines(split):
      tags = ["NUM" if w.strip(".,()").isdigit() else "CAP" if w[:1].isupper() else "WORD"
              for w in line.split()]
      writer.writerow([line, " ".join(tags)])
  return str(path)


def test_token_tagging_predicts_and_scores_one_tag_per_word(tmp_path, bert):
  eval_csv = tags_csv(tmp_path / "eval.csv", "eval")
  bindings = [
      f"MODULE_HANDLE = '{bert}'", "TRAIN_STEPS = 30", "learning_rate_schedule.warmup_steps = 0",
      f"csv_data.train_files = '{tags_csv(tmp_path / 'train.csv', 'train')}'",
      f"csv_data.eval_files = '{eval_csv}'", "MAX_SEQ_LENGTH = 24",
      "token_tagging_head.tags = ['CAP', 'NUM', 'WORD']"
  ]
  model_dir = str(tmp_path / "model")
  trained = api.train(["text/bert_tagging.gin"], bindings, model_dir=model_dir)
  predicted = api.train(["text/bert_tagging.gin"], bindings, model_dir=model_dir,
                        schedule="predict")
  with open(predicted.predictions) as f:
    predictions = [json.loads(line) for line in f]
  with open(eval_csv) as f:
    rows = list(csv.DictReader(f))
  assert len(predictions) == len(rows)
  vocab = vocabulary(bert)
  right = scored = 0
  for prediction, row in zip(predictions, rows):
    tags = row["tags"].split()
    given = [t for t in prediction["tags"] if t]
    assert len(given) == kept_words(row["text"], vocab, 24), row  # a tag per word that fits
    right += sum(g == t for g, t in zip(given, tags))
    scored += len(given)
  # Metrics are per word: the evaluation's accuracy is the share of scored words right.
  assert trained.metrics["accuracy"] == pytest.approx(right / scored, abs=1e-4)


def test_sweep_over_modules_with_different_vocabularies(tmp_path, bert):
  """Each trial tokenizes with its own module's vocabulary: the small module's embedding
  table would fail on the larger vocabulary's ids."""
  small = builders.build_bert_module(str(tmp_path / "small"), task_lines()[:200], vocab_size=120)
  assert len(vocabulary(small)) < len(vocabulary(bert))
  # Through the API (the sweep's own start-up saved): its trials are processes all the same.
  api.sweep(["text/bert_classifier.gin"], str(tmp_path / "sweep"), {"MODULE_HANDLE": [bert, small]},
            bindings=classifier_bindings(bert, 5)[1:])
  with open(tmp_path / "sweep" / "results.csv") as f:
    rows = list(csv.DictReader(f))
  assert [r["state"] for r in rows] == ["done", "done"], [r["error"] for r in rows]


def test_inspect_proposes_the_tokens_signature_and_the_tokenizer(bert):
  snippet = api.inspect(bert)["gin"]
  assert 'hub_module.signature = "tokens"' in snippet
  assert 'hub_module.output_key = "pooled_output"' in snippet
  assert "csv_data.tokenization = @bert_tokenization()" in snippet
  # Its position table has 64 rows: the proposal is a length the module takes.
  assert "bert_tokenization.max_seq_length = 64" in snippet


def test_a_sequence_longer_than_the_position_table_is_refused_before_training(tmp_path, bert):
  """128 tokens into a module with 64 positions failed inside import_graph_def ('Dimensions
  must be equal, but are 128 and 64'); now it is one line naming the limit, before anything
  is written, and the limit itself trains."""
  with pytest.raises(FinetuneError) as raised:
    api.train(["text/bert_classifier.gin"], classifier_bindings(bert, 2, "MAX_SEQ_LENGTH = 128"),
              model_dir=str(tmp_path / "long"))
  assert "has 64 positions" in str(raised.value)
  assert "set bert_tokenization.max_seq_length = 64 or less" in str(raised.value)
  assert not (tmp_path / "long").exists()
  api.train(["text/bert_classifier.gin"], classifier_bindings(bert, 2, "MAX_SEQ_LENGTH = 64"),
            model_dir=str(tmp_path / "limit"), schedule="train")
  assert helpers.checkpoint_step(str(tmp_path / "limit")) == 2


@pytest.fixture(scope="module")
def albert(tmp_path_factory):
  """An ALBERT-style module: its tokenization_info names a SentencePiece model."""
  spm = pytest.importorskip("sentencepiece")
  root = tmp_path_factory.mktemp("albert")
  corpus = root / "corpus.txt"
  corpus.write_text("\n".join(line.lower() for line in task_lines()) + "\n")
  spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(root / "sp"), vocab_size=300,
                                 user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"], pad_id=0,
                                 unk_id=1, bos_id=-1, eos_id=-1, minloglevel=2)
  from examples.bert import module as bert_module  # pylint: disable=g-import-not-at-top
  handle = bert_module.export_untrained(str(root / "albert"), str(root / "sp.model"),
                                        vocab_size=300, hidden=16, layers=1, intermediate=32,
                                        max_position=64)
  return handle, spm.SentencePieceProcessor(model_file=str(root / "sp.model"))


def test_sentencepiece_module_tokenizes_with_its_model_and_trains(tmp_path, albert):
  handle, processor = albert
  lines = task_lines("eval")[:40]
  out = tokenize(handle, 32, lines)
  cls, sep = processor.piece_to_id("[CLS]"), processor.piece_to_id("[SEP]")
  for i, line in enumerate(lines):
    pieces = [p for word in line.lower().split() for p in processor.encode(word)][:30]
    expected = [cls] + pieces + [sep]
    assert out["input_ids"][i][:len(expected)].tolist() == expected, line
    assert out["input_mask"][i].sum() == len(expected)
  # The training loop reads through an initializable iterator: SentencePiece ops are stateful.
  result = api.train(["text/bert_classifier.gin"],
                     classifier_bindings(handle, 10, "training.steps_per_run = 5"),
                     model_dir=str(tmp_path / "model"))
  assert result.metrics["global_step"] == 10
