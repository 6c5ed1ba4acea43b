"""Raw text in, BERT's inputs out: the module's own tokenizer, in the graph.

`bert_tokenization` is set on a data source (`csv_data.tokenization = @bert_tokenization()`)
when the module takes BERT's "tokens" inputs. It reads the vocabulary and lower-casing from
the module's "tokenization_info" signature (or from `vocab_file`/`do_lower_case` when the
module has none), and turns one text column (or two, a sentence pair) into input_ids,
input_mask and segment_ids of `max_seq_length`: [CLS] a [SEP] (b [SEP]), pairs truncated
longest first, padded with 0. It runs in the tf.data pipeline and in the serving receiver
alike, so the serving SavedModel takes raw text. Ops come from tensorflow_text (FastBert-
Tokenizer for WordPiece vocabularies, SentencepieceTokenizer for SentencePiece models); a
serving binary must load its custom ops (`import tensorflow_text`).

Text is split on whitespace first, and each word is tokenized on its own (BERT's basic
tokenizer splits on whitespace first too), so word positions are known: `word_starts` (the
position of each word's first wordpiece) and `word_mask` serve token-level heads.
"""

import codecs
from typing import Optional, Sequence

import gin
import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

from finetune import checks
from finetune.errors import FinetuneError
from finetune.modules import tokenization_info

INT = tf.int32
INPUTS = ("input_ids", "input_mask", "segment_ids")  # BERT's three, in every module


def import_tensorflow_text():
  """tensorflow_text, whose import also registers its ops (as a serving binary must do)."""
  try:
    import tensorflow_text  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise FinetuneError(
        "BERT-style modules are tokenized with tensorflow-text, which is not installed: "
        "pip install --no-deps tensorflow-text==2.15.0 (--no-deps: its metadata asks for the "
        "full tensorflow package, which would install a second TensorFlow beside "
        "tensorflow-cpu; on hosts with `tensorflow` a plain install is fine).") from e
  return tensorflow_text


def _is_sentencepiece(path):
  with tf.io.gfile.GFile(path, "rb") as f:
    head = f.read(4096)
  try:  # incremental: a character cut at the 4096th byte is not an error
    codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
  except UnicodeDecodeError:
    return True
  return b"\x00" in head


def _fast_bert_models(vocab, lower_case):
  """FastBertTokenizer's two flatbuffer models, built once per vocabulary: given a vocabulary,
  the tokenizer builds them again on every call and turns each into a graph constant through
  a Python list of its bytes (seconds for a small vocabulary, minutes for BERT's 30,000)."""
  # pylint: disable-next=g-import-not-at-top
  from tensorflow_text.core.pybinds import pywrap_fast_bert_normalizer_model_builder as normalizer
  # pylint: disable-next=g-import-not-at-top
  from tensorflow_text.core.pybinds import pywrap_fast_wordpiece_tokenizer_model_builder as pieces
  # The tokenizer's own defaults: "##" suffixes, 100 bytes a word, split on whitespace and
  # punctuation first, no detokenization.
  wordpiece = pieces.build_fast_wordpiece_model(vocab, 100, "##", "[UNK]", False, False)
  return wordpiece, normalizer.build_fast_bert_normalizer_model(lower_case)


def _uint8_constant(model):
  """A model's bytes as the uint8 tensor the tokenizer takes, without a Python list."""
  return tf.constant(np.frombuffer(model, dtype=np.uint8))


class _Vocabulary:
  """The tokenizer of one vocabulary: tokenize(words [n]) -> ragged ids [n, (pieces)]."""

  def __init__(self, vocab_file, do_lower_case):
    text = import_tensorflow_text()
    self.sentencepiece = _is_sentencepiece(vocab_file)
    self.do_lower_case = checks.boolean(do_lower_case, "bert_tokenization.do_lower_case",
                                        allow_none=True)
    if self.sentencepiece:
      with tf.io.gfile.GFile(vocab_file, "rb") as f:
        # The model's bytes, not a tensor: the op needs them when the graph is built.
        self._model = f.read()
      self._tokenizer = lambda: text.SentencepieceTokenizer(model=self._model, out_type=INT)
      self.cls_id, self.sep_id = self._sentencepiece_ids(["[CLS]", "[SEP]"])
      unknown = self._sentencepiece_ids(["<an unseen piece>"])[0]
      if unknown in (self.cls_id, self.sep_id):
        raise FinetuneError(f"The SentencePiece model {vocab_file} has no [CLS] or [SEP] piece; "
                            "an ALBERT-style model needs both.")
      return
    with tf.io.gfile.GFile(vocab_file) as f:
      vocab = [line.rstrip("\n") for line in f]
    missing = [t for t in ("[CLS]", "[SEP]", "[UNK]") if t not in vocab]
    if missing:
      raise FinetuneError(f"The WordPiece vocabulary {vocab_file} lacks {', '.join(missing)}; "
                          "a BERT-style vocabulary needs [CLS], [SEP] and [UNK].")
    self.cls_id, self.sep_id = vocab.index("[CLS]"), vocab.index("[SEP]")
    wordpiece, normalizer = _fast_bert_models(vocab, bool(do_lower_case))
    self._tokenizer = lambda: text.FastBertTokenizer(
        token_out_type=INT,
        fast_wordpiece_model_buffer=_uint8_constant(wordpiece),
        fast_bert_normalizer_model_buffer=_uint8_constant(normalizer))

  def _sentencepiece_ids(self, pieces):
    with tf.Graph().as_default():
      ids = self._tokenizer().string_to_id(tf.constant(pieces))
      with tf.compat.v1.Session() as session:
        return [int(i) for i in session.run(ids)]

  def tokenize(self, words):
    if self.sentencepiece and self.do_lower_case:
      words = tf.strings.lower(words, encoding="utf-8")
    pieces = self._tokenizer().tokenize(words)
    return pieces.merge_dims(1, -1) if pieces.ragged_rank > 1 else pieces


@gin.configurable("bert_tokenization")
class BertTokenization:
  """The module's tokenizer, applied to text columns.

  Args:
    text_columns: one text feature, or two for sentence pairs (segment 0 and 1).
    max_seq_length: length of input_ids, input_mask and segment_ids.
    vocab_file, do_lower_case: only for a module without a tokenization_info signature.
    separately: tokenize each text column on its own ([CLS] a [SEP], then [CLS] b [SEP])
      into <column>_input_ids, <column>_input_mask and <column>_segment_ids, and apply the
      module once per column with shared weights (the pair encoders of Sentence-BERT);
      False: one sequence [CLS] a [SEP] b [SEP] (BERT's cross-encoder).
  """

  def __init__(self,
               text_columns: Sequence[str] = gin.REQUIRED,
               max_seq_length: int = 128,
               vocab_file: Optional[str] = None,
               do_lower_case: Optional[bool] = None,
               separately: bool = False):
    self.text_columns = [text_columns] if isinstance(text_columns, str) else list(text_columns)
    if len(self.text_columns) not in (1, 2):
      raise FinetuneError(f"bert_tokenization.text_columns = {self.text_columns}: give one text "
                          "column, or two for a sentence pair.")
    self.max_seq_length = checks.positive_int(max_seq_length, "bert_tokenization.max_seq_length")
    if self.max_seq_length < 2 + len(self.text_columns):
      raise FinetuneError(f"bert_tokenization.max_seq_length = {max_seq_length} leaves no room "
                          "for text after [CLS] and [SEP].")
    self.vocab_file, self.do_lower_case = vocab_file, do_lower_case
    self.separately = checks.boolean(separately, "bert_tokenization.separately")
    self.vocabulary = None

  @property
  def max_words(self):
    return self.max_seq_length - 2

  def adapt_to_module(self, module):
    """Builds the tokenizer from the module's tokenization_info (or the configured file)."""
    if not module.takes_tokens():
      raise FinetuneError(
          f"A data source has tokenization = @bert_tokenization(), but signature "
          f"'{module.signature}' of module '{module.handle}' does not take BERT's input_ids, "
          "input_mask and segment_ids; set hub_module.signature = \"tokens\" for a BERT-style "
          "module, or remove the tokenization for this one.")
    info = tokenization_info.read(module.spec, module.serving_tags)
    if info is None and not self.vocab_file:
      raise FinetuneError(
          f"Module '{module.handle}' has a '{module.signature}' signature but no "
          "tokenization_info signature to name its vocabulary; set bert_tokenization.vocab_file "
          "(and bert_tokenization.do_lower_case) to the vocabulary it was trained with.")
    vocab_file = self.vocab_file or info.vocab_file
    lower = self.do_lower_case if self.do_lower_case is not None else (
        info.do_lower_case if info else True)
    self._check_length(module)
    self.vocabulary = _Vocabulary(vocab_file, lower)

  def _check_length(self, module):
    inputs = module.spec.get_input_info_dict(signature=module.signature,
                                             tags=module.serving_tags)
    shape = inputs["input_ids"].get_shape() if "input_ids" in inputs else None
    if shape is not None and shape.rank == 2 and shape[1] is not None:
      if self.max_seq_length != shape[1]:
        raise FinetuneError(
            f"bert_tokenization.max_seq_length = {self.max_seq_length} but module "
            f"'{module.handle}' takes sequences of exactly {shape[1]} tokens; set "
            f"bert_tokenization.max_seq_length = {shape[1]}.")
    rows = tokenization_info.position_rows(module.spec, hub.resolve(module.handle))
    if rows is not None and self.max_seq_length > rows:
      raise FinetuneError(
          f"bert_tokenization.max_seq_length = {self.max_seq_length} but module "
          f"'{module.handle}' has {rows} positions (its {tokenization_info.POSITION_TABLE} "
          f"table): it takes at most {rows} tokens; set bert_tokenization.max_seq_length = "
          f"{rows} or less.")

  def check_columns(self, raw_specs):
    """The text columns exist and are strings; no other string column is left untokenized."""
    for column in self.text_columns:
      if column not in raw_specs:
        raise FinetuneError(f"bert_tokenization.text_columns names '{column}', which the data "
                            f"does not have; its features are: {', '.join(sorted(raw_specs))}.")
      if raw_specs[column].dtype != tf.string:
        raise FinetuneError(f"bert_tokenization.text_columns names '{column}', which is "
                            f"{raw_specs[column].dtype.name}, not text. Declare it as a string "
                            "column (csv_data.column_types = {'" + column + "': 'string'}).")
    others = sorted(n for n, s in raw_specs.items()
                    if s.dtype == tf.string and n not in self.text_columns)
    if others:
      raise FinetuneError(
          f"The data has text columns {', '.join(others)} that bert_tokenization.text_columns "
          f"({', '.join(self.text_columns)}) leaves out; list the column(s) to tokenize (two "
          "for a sentence pair), or leave the others out of csv_data.feature_columns.")

  def input_mappings(self):
    """With `separately`, one mapping of the module's inputs per text column."""
    return [{name: f"{column}_{name}" for name in INPUTS} for column in self.text_columns]

  def feature_specs(self, raw_specs):
    """The model's features: text columns replaced by BERT's inputs and word positions."""
    specs = {n: s for n, s in raw_specs.items() if n not in self.text_columns}
    if self.separately:
      return dict(specs, **{feature: tf.TensorSpec([self.max_seq_length], INT)
                            for mapping in self.input_mappings() for feature in mapping.values()})
    for name in INPUTS:
      specs[name] = tf.TensorSpec([self.max_seq_length], INT)
    specs["word_starts"] = tf.TensorSpec([self.max_words], INT)
    specs["word_mask"] = tf.TensorSpec([self.max_words], INT)
    specs["word_count"] = tf.TensorSpec([], INT)
    return specs

  def __call__(self, features):
    """Tokenizes a batch: {text column: [batch] strings, ...} -> the model's features."""
    features = dict(features)
    segments, word_counts = [], []
    for column in self.text_columns:
      words = tf.strings.split(tf.reshape(features.pop(column), [-1]))
      word_counts.append(tf.cast(words.row_lengths(), INT))
      pieces = self.vocabulary.tokenize(words.flat_values)
      segments.append(tf.RaggedTensor.from_row_splits(pieces, words.row_splits))
    if self.separately:
      for column, segment in zip(self.text_columns, segments):
        encoded, _ = self._encode([segment])
        features.update({f"{column}_{name}": value for name, value in encoded.items()})
      return features
    encoded, trimmed = self._encode(segments)
    features.update(encoded)
    features.update(self._word_positions(segments[0], trimmed[0].row_lengths()))
    features["word_count"] = word_counts[0]  # all words, cut off or not: a tagging label's length
    return features

  def _encode(self, segments):
    """Segments [batch, (words), (pieces)] -> ({input_ids, input_mask, segment_ids}, the
    segments as trimmed): [CLS] a [SEP] (b [SEP]), padded to max_seq_length."""
    text = import_tensorflow_text()
    budget = self.max_seq_length - 1 - len(segments)
    trimmed = text.RoundRobinTrimmer(budget).trim([s.merge_dims(1, 2) for s in segments])
    ids, segment_ids = text.combine_segments(trimmed, self.vocabulary.cls_id,
                                             self.vocabulary.sep_id)
    input_ids, input_mask = text.pad_model_inputs(ids, self.max_seq_length)
    segment_ids, _ = text.pad_model_inputs(segment_ids, self.max_seq_length)
    encoded = dict(input_ids=input_ids, input_mask=input_mask, segment_ids=segment_ids)
    return {name: tf.cast(value, INT) for name, value in encoded.items()}, trimmed

  def _word_positions(self, pieces, kept_lengths):
    """Position of each word's first wordpiece in input_ids (after [CLS]), and whether it
    survived truncation; padded (or cut) to max_words."""
    counts = tf.cast(pieces.row_lengths(axis=2), INT)  # [batch, (words)]
    flat = counts.flat_values
    before = tf.math.cumsum(flat, exclusive=True)  # pieces before each word, across rows
    row_first = tf.gather(tf.concat([before, [0]], 0), counts.row_starts())
    starts = before - tf.repeat(row_first, counts.row_lengths()) + 1  # +1: [CLS]
    kept = starts <= tf.repeat(tf.cast(kept_lengths, INT), counts.row_lengths())
    kept &= flat > 0  # a word with no wordpiece (control characters only) has no position
    starts = tf.where(kept, starts, 0)  # a word cut off points at [CLS] and is not scored
    shape = [None, self.max_words]
    return {
        "word_starts": counts.with_flat_values(starts).to_tensor(0, shape=shape),
        "word_mask": counts.with_flat_values(tf.cast(kept, INT)).to_tensor(0, shape=shape),
    }
