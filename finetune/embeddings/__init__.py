"""Publishing pretrained word vectors as modules: the TF1 Hub format guide's "real example".

`vector_files` reads the formats word vectors ship in (`text_vectors`: GloVe and word2vec
text; `binary_vectors`: word2vec binary; `matrix_files`: a .npy matrix with a word list) a
batch at a time, refusing a bad file with one line; `text_checks` refuses what no sentence
could reach (a UTF-16 file, a word with a tab or not in UTF-8); `vocabulary` writes and
checks the words as they come, and `table_io` keeps the rows in a file read a slice at a
time, so memory holds the table once, in the module's variable. `sentence_tokens` is the in-graph tokenization both
module formats share; `tf1_module` and `tf2_module` write a text-embedding module (the common
"default" signature: 1-D string sentences in, [batch, dim] out) in TF1 Hub format or as a
reusable TF2 SavedModel; `publish` ties them together for `python -m finetune.export_embedding`.
"""
