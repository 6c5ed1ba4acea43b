"""Publishing pretrained word vectors as modules: the TF1 Hub format guide's "real example".

`vector_files` reads the formats word vectors ship in (GloVe and word2vec text, word2vec
binary, a .npy matrix with a word list) into one table, refusing a bad file with one line;
`text_checks` refuses what no sentence could reach (a UTF-16 file, a word with a tab or not
in UTF-8);
`sentence_tokens` is the in-graph tokenization both module formats share; `tf1_module` and
`tf2_module` write a text-embedding module (the common "default" signature: 1-D string
sentences in, [batch, dim] out) in TF1 Hub format or as a reusable TF2 SavedModel;
`publish` ties them together for `python -m finetune.export_embedding`.
"""
