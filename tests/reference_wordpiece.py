"""A plain-Python WordPiece tokenizer and BERT input builder, written from the algorithm of
google-research/bert's tokenization.py and run_classifier.py, as the reference the in-graph
tokenization is checked against."""

import unicodedata


def _is_punctuation(char):
  cp = ord(char)
  if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
    return True
  return unicodedata.category(char).startswith("P")


def _basic_tokens(text, lower):
  tokens = []
  for word in text.split():
    if lower:
      word = "".join(c for c in unicodedata.normalize("NFD", word.lower())
                     if unicodedata.category(c) != "Mn")
    current = ""
    for char in word:
      if _is_punctuation(char):
        tokens += [current] if current else []
        tokens.append(char)
        current = ""
      else:
        current += char
    tokens += [current] if current else []
  return tokens


def _wordpieces(token, vocab):
  pieces, start = [], 0
  while start < len(token):
    end, found = len(token), None
    while start < end:
      piece = token[start:end] if start == 0 else "##" + token[start:end]
      if piece in vocab:
        found = piece
        break
      end -= 1
    if found is None:
      return ["[UNK]"]
    pieces.append(found)
    start = end
  return pieces


def tokenize(text, vocab, lower=True):
  """Wordpiece ids of `text` with the vocabulary {token: id}."""
  return [vocab[p] for t in _basic_tokens(text, lower) for p in _wordpieces(t, vocab)]


def bert_inputs(vocab, max_seq_length, text_a, text_b=None, lower=True):
  """(input_ids, input_mask, segment_ids) as BERT's run_classifier builds them."""
  a = tokenize(text_a, vocab, lower)
  b = tokenize(text_b, vocab, lower) if text_b is not None else None
  if b is None:
    a = a[:max_seq_length - 2]
  else:  # _truncate_seq_pair: shorten the longer one (the second on ties) token by token
    while len(a) + len(b) > max_seq_length - 3:
      (a if len(a) > len(b) else b).pop()
  ids = [vocab["[CLS]"]] + a + [vocab["[SEP]"]]
  segments = [0] * len(ids)
  if b is not None:
    ids += b + [vocab["[SEP]"]]
    segments += [1] * (len(b) + 1)
  pad = max_seq_length - len(ids)
  return ids + [0] * pad, [1] * len(ids) + [0] * pad, segments + [0] * pad
