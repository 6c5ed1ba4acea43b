"""The bad inputs of tests/test_errors.py: one row per case of the error table in docs/errors.md.

Each case is (case id, extra command-line arguments as a callable of tmp_path, the tiny
module's handle and the BERT fixtures, expected message), on the digits task.
"""

import os
import shutil

import tensorflow as tf

from finetune import train
from tests import builders
from tests import tf2_builders


DIGITS = builders.DIGITS_DATA
TRAIN_CSV = os.path.join(DIGITS, "finetune_train.csv")


def write(path, text):
  path.write_text(text)
  return str(path)


def header():
  return ",".join([f"pixel_{i}" for i in range(64)] + ["parity"])


def csv_rows(*rows):
  return header() + "\n" + "".join(r + "\n" for r in rows)


ROW = ",".join(["1"] * 64)
TAGS = "text,tags\nOpen the file.,WORD WORD WORD\nReturn the value.,WORD WORD\n"

# (case id, extra command-line arguments (a callable of tmp_path and the tiny module
#  handle), expected message). MODEL is replaced by the case's model_dir.
CASES = [
    ("missing_gin_file", lambda t, m, b: ["--gin_file=nope.gin"], "Gin file 'nope.gin' not found"),
    ("gin_syntax_error",
     lambda t, m, b: ["--gin_file=" + write(t / "bad.gin", "training.train_steps = = 3\n")],
     "Gin syntax error at "),
    ("unknown_parameter", lambda t, m, b: ["--gin_bindings=hub_module.handel = 'x'"],
     "Did you mean: hub_module.handle"),
    ("unknown_configurable", lambda t, m, b: ["--gin_bindings=hub_modul.handle = 'x'"],
     "No configurable matching 'hub_modul'"),
    ("train_steps_wrong_type", lambda t, m, b: ["--gin_bindings=TRAIN_STEPS = 'ten'"],
     "training.train_steps = %TRAIN_STEPS is a string; it takes an integer"),
    ("batch_size_wrong_type", lambda t, m, b: ["--gin_bindings=BATCH_SIZE = 'big'"],
     "csv_data.batch_size = %BATCH_SIZE is a string; it takes an integer"),
    ("missing_handle", lambda t, m, b: ["--gin_bindings=MODULE_HANDLE = None"],
     "No module handle: set hub_module.handle"),
    ("handle_missing_path", lambda t, m, b: [f"--gin_bindings=MODULE_HANDLE = '{t}/none'"],
     "does not exist. Give a directory that holds tfhub_module.pb"),
    ("handle_not_a_module", lambda t, m, b: [f"--gin_bindings=MODULE_HANDLE = '{t}'"],
     "is a directory without tfhub_module.pb"),
    ("handle_is_a_module_file",
     lambda t, m, b: [f"--gin_bindings=MODULE_HANDLE = '{m}/tfhub_module.pb'"],
     "is the module's file tfhub_module.pb; a handle names the module's folder: "
     "hub_module.handle = '"),
    ("handle_is_a_local_archive",
     lambda t, m, b: [f"--gin_bindings=MODULE_HANDLE = '{builders.make_tarball(m, str(t / 'm.tar.gz'))}'"],
     "m.tar.gz' is a local archive, and tensorflow_hub reads a local module only as a folder "
     "(archives only over http(s)). Unpack it (mkdir MODULE && tar -xzf "),
    ("handle_not_allowed",
     lambda t, m, b: ["--gin_bindings=hub_module.allowed_handle_prefixes = ['gs://trusted/']"],
     "is not allowed: hub_module.allowed_handle_prefixes = ['gs://trusted/']"),
    ("unknown_signature", lambda t, m, b: ["--gin_bindings=hub_module.signature = 'tokens'"],
     "Signature 'tokens' not in module"),
    ("unknown_output_key", lambda t, m, b: ["--gin_bindings=hub_module.output_key = 'pooled'"],
     "Output 'pooled' not in signature 'default'"),
    ("unknown_tag_set", lambda t, m, b: ["--gin_bindings=hub_module.train_tags = ['gpu']"],
     'Tag set {"gpu"} is not a graph variant'),
    ("missing_data_column", lambda t, m, b: ["--gin_bindings=csv_data.label_column = 'label'"],
     "Column 'label' is not in the CSV header; the columns are: pixel_0"),
    ("input_wrong_dtype", lambda t, m, b: [
        "--gin_bindings=hub_module.input_mapping = {'pixels': 'pixel_0'}",
        "--gin_bindings=csv_data.column_groups = {'pixels': 'pixel_1*'}",
        "--gin_bindings=csv_data.column_types = {'pixel_0': 'string'}"
    ], "Feature 'pixel_0' is string but signature input 'pixels' takes float32"),
    ("input_wrong_shape",
     lambda t, m, b: ["--gin_bindings=csv_data.column_groups = {'pixels': 'pixel_1*'}"],
     "Feature 'pixels' has per-example shape [11] but signature input 'pixels' takes [64]"),
    ("label_outside_classes", lambda t, m, b: [
        f"--gin_bindings=csv_data.train_files = '{write(t / 'c.csv', csv_rows(ROW + ',7'))}'",
        "--gin_bindings=experiment.head = @multi_class_head()",
        "--gin_bindings=multi_class_head.n_classes = 3"
    ], "c.csv: label 7 is outside the classes 0..2 (n_classes = 3)"),
    ("label_not_in_vocabulary",
     lambda t, m, b: ["--gin_bindings=binary_class_head.label_vocabulary = ['even', 'uneven']"],
     "finetune_train.csv: label 'odd' is not in the label_vocabulary (even, uneven)"),
    ("label_not_a_number",
     lambda t, m, b: ["--gin_bindings=binary_class_head.label_vocabulary = None"],
     "finetune_train.csv: label 'even' is not a number and the head has no label_vocabulary"),
    ("empty_data_file",
     lambda t, m, b: [f"--gin_bindings=csv_data.eval_files = '{write(t / 'e.csv', csv_rows())}'"],
     "have a header but no data rows"),
    ("missing_data_files",
     lambda t, m, b: [f"--gin_bindings=csv_data.train_files = '{t}/nothing/*.csv'"],
     "No files match csv_data.train_files"),
    ("malformed_csv_row", lambda t, m, b: [
        f"--gin_bindings=csv_data.train_files = '{write(t / 'm.csv', csv_rows(ROW + ',odd', '1,2,odd'))}'"
    ], "m.csv has 3 fields where the header has 65"),
    ("csv_value_not_a_number", lambda t, m, b: [
        f"--gin_bindings=csv_data.train_files = '{write(t / 'n.csv', csv_rows(ROW.replace('1', 'x', 1) + ',odd'))}'"
    ], "n.csv: column 'pixel_0' is 'x', not a finite float"),
    ("loss_becomes_nan", lambda t, m, b: [
        "--gin_bindings=LEARNING_RATE = 1e30",
        "--gin_bindings=optimization.optimizer = @tf.train.GradientDescentOptimizer",
        "--gin_bindings=optimization.clip_gradient_norm = None", "--gin_bindings=TRAIN_STEPS = 50"
    ], "The loss became NaN or infinite at step"),
    ("negative_learning_rate", lambda t, m, b: ["--gin_bindings=LEARNING_RATE = -0.1"],
     "base_learning_rate must be > 0, got -0.1"),
    ("warmup_longer_than_training",
     lambda t, m, b: ["--gin_bindings=learning_rate_schedule.warmup_steps = 10"],
     "warmup_steps = 10 must be an integer >= 0 and shorter than training (train_steps = 3)"),
    ("unknown_decay", lambda t, m, b: ["--gin_bindings=learning_rate_schedule.decay = 'cos'"],
     "decay = 'cos' is unknown; use one of: constant, linear"),
    ("vocabulary_class_count_mismatch", lambda t, m, b: [
        "--gin_bindings=experiment.head = @multi_class_head()",
        "--gin_bindings=multi_class_head.n_classes = 3",
        "--gin_bindings=multi_class_head.label_vocabulary = ['even', 'odd']"
    ], "label_vocabulary has 2 entries but n_classes = 3"),
    ("read_only_model_dir", lambda t, m, b: ["--model_dir=/proc/finetune_model"],
     "model_dir '/proc/finetune_model' cannot be written"),
    ("eval_steps_zero", lambda t, m, b: ["--gin_bindings=evaluation.eval_steps = 0"],
     "evaluation.eval_steps must be a positive integer, got 0"),
    ("negative_hidden_units", lambda t, m, b: ["--gin_bindings=head_network.hidden_units = [8, -1]"],
     "head_network.hidden_units entries must be a positive integer, got -1"),
    ("checkpoint_steps_zero", lambda t, m, b: ["--gin_bindings=run_config.save_checkpoints_steps = 0"],
     "run_config.save_checkpoints_steps must be a positive integer, got 0"),
    ("learning_rate_not_a_number", lambda t, m, b: ["--gin_bindings=LEARNING_RATE = 'fast'"],
     "learning_rate_schedule.base_learning_rate = %LEARNING_RATE is a string; it takes a number"),
    ("evaluate_without_checkpoint", lambda t, m, b: ["--schedule=evaluate"],
     "No checkpoint in"),
    ("predict_without_checkpoint", lambda t, m, b: ["--schedule=predict"],
     "to predict; train first"),
    ("csv_duplicate_columns", lambda t, m, b: [
        f"--gin_bindings=csv_data.eval_files = '{write(t / 'd.csv', 'pixel_0,pixel_0' + chr(10) + '1,2' + chr(10))}'",
        f"--gin_bindings=csv_data.train_files = '{t / 'd.csv'}'"
    ], "names pixel_0 more than once; column names must be unique"),
    ("data_file_is_a_directory", lambda t, m, b: [f"--gin_bindings=csv_data.train_files = '{t}'"],
     "names the directory"),
    ("no_data_files_listed", lambda t, m, b: ["--gin_bindings=csv_data.eval_files = []"],
     "csv_data.eval_files = [] names no files; give a file, a glob pattern (e.g. "
     "'data/eval-*') or a list of them."),
    ("one_of_the_data_files_missing",
     lambda t, m, b: [f"--gin_bindings=csv_data.train_files = ['{TRAIN_CSV}', '{t}/gone.csv']"],
     "gone.csv')"),
    ("gin_file_is_a_directory", lambda t, m, b: [f"--gin_file={t}"], "is a directory; give a .gin file"),
    ("gin_include_cycle", lambda t, m, b: [
        "--gin_file=" + write(t / "a.gin", f"include '{t / 'b.gin'}'" + chr(10)),
        "--gin_file=" + write(t / "b.gin", f"include '{t / 'a.gin'}'" + chr(10))
    ], "Gin files include each other in a cycle"),
    ("gin_include_of_a_directory",
     lambda t, m, b: ["--gin_file=" + write(t / "i.gin", f"include '{t}'" + chr(10))],
     "is a directory; include takes a .gin file; that directory holds i.gin. In file "),
    ("best_export_metric_typo", lambda t, m, b: ["--gin_bindings=evaluation.best_export_metric = 'acuracy'"],
     "evaluation.best_export_metric = 'acuracy' is not an eval metric of this head; its metrics are: accuracy"),
    ("early_stopping_metric_typo", lambda t, m, b: [
        "--gin_bindings=training.early_stopping = @early_stopping()",
        "--gin_bindings=early_stopping.metric = 'los'"
    ], "early_stopping.metric = 'los' is not an eval metric of this head"),
    ("tokenization_on_a_plain_module", lambda t, m, b: [
        "--gin_bindings=csv_data.tokenization = @bert_tokenization()",
        "--gin_bindings=bert_tokenization.text_columns = ['pixel_0']"
    ], "does not take BERT's input_ids, input_mask and segment_ids; set hub_module.signature"),
    ("label_outside_classes_on_resume", lambda t, m, b: [
        f"--gin_bindings=csv_data.train_files = '{write(t / 'r.csv', csv_rows(ROW + ',odd', ROW + ',seven'))}'",
        f"--model_dir={trained_model_dir(t, m)}", "--gin_bindings=TRAIN_STEPS = 6"
    ], "Row 3 of"),
    ("csv_eval_header_differs", lambda t, m, b: [
        f"--gin_bindings=csv_data.eval_files = '{write(t / 'h.csv', 'parity,' + header().rsplit(',', 1)[0] + chr(10))}'"
    ], "h.csv' differs from that of '"),
    ("module_variables_missing",
     lambda t, m, b: [f"--gin_bindings=MODULE_HANDLE = '{builders.damaged_copy(m, t / 'mod', 'missing')}'"],
     "has variables in its graph but no variables/variables.index"),
    ("module_variables_truncated",
     lambda t, m, b: [f"--gin_bindings=MODULE_HANDLE = '{builders.damaged_copy(m, t / 'mod', 'cut')}'"],
     "its variables data holds"),
    ("module_file_empty",
     lambda t, m, b: [f"--gin_bindings=MODULE_HANDLE = '{replaced(m, t / 'mod', 'tfhub_module.pb', b'')}'"],
     "mod/tfhub_module.pb) is empty (0 bytes), so the module is incomplete"),
    ("module_file_damaged",
     lambda t, m, b: [f"--gin_bindings=MODULE_HANDLE = '{replaced(m, t / 'mod', 'saved_model.pb', b'not a protocol buffer')}'"],
     "saved_model.pb) does not read as a SavedModel (DecodeError"),
    ("tfrecord_corrupt", lambda t, m, b: TFRECORD(corrupt(records(t / "c.tfrecord"))),
     "c.tfrecord is damaged after record"),
    ("tfrecord_not_a_tfrecord_file", lambda t, m, b: TFRECORD(TRAIN_CSV),
     "finetune_train.csv is not a TFRecord file"),
    ("tfrecord_gzip_without_compression_type",
     lambda t, m, b: TFRECORD(records(t / "g.tfrecord", compression="GZIP")),
     "g.tfrecord' is GZIP-compressed; set tfrecord_data.compression_type = 'GZIP'"),
    ("tfrecord_missing_feature",
     lambda t, m, b: TFRECORD(records(t / "f.tfrecord", leave_out="pixels")),
     "f.tfrecord has no feature 'pixels' (it has: label)"),
    ("tfrecord_label_outside_classes", lambda t, m, b: TFRECORD(records(t / "l.tfrecord", label=7)),
     "Record 0 of"),
    ("bert_unknown_serving_tags",
     lambda t, m, b: BERT(b) + ["--gin_bindings=hub_module.serving_tags = ['gpu']"],
     'Tag set {"gpu"} is not a graph variant'),
    ("bert_without_tokenization", lambda t, m, b: BERT(b) + ["--gin_bindings=csv_data.tokenization = None"],
     "takes BERT's input_ids, input_mask and segment_ids: set tokenization = @bert_tokenization()"),
    ("bert_text_column_missing",
     lambda t, m, b: BERT(b) + ["--gin_bindings=bert_tokenization.text_columns = ['txt']"],
     "bert_tokenization.text_columns names 'txt', which the data does not have; its features are: text"),
    ("bert_pair_with_one_column", lambda t, m, b: BERT(b) + [
        "--gin_file=text/bert_pairs.gin",
        f"--gin_bindings=csv_data.train_files = '{write(t / 'p.csv', 'sentence1,sentence2,label' + chr(10) + 'a b,c d,same' + chr(10))}'",
        f"--gin_bindings=csv_data.eval_files = '{t / 'p.csv'}'",
        "--gin_bindings=bert_tokenization.text_columns = ['sentence1']"
    ], "The data has text columns sentence2 that bert_tokenization.text_columns (sentence1) leaves out"),
    ("bert_tagging_tag_count_differs", lambda t, m, b: [
        "--gin_file=text/bert_tagging.gin", f"--gin_bindings=MODULE_HANDLE = '{b['bert']}'",
        "--gin_bindings=MAX_SEQ_LENGTH = 16",
        f"--gin_bindings=csv_data.train_files = '{write(t / 'tags.csv', TAGS)}'",
        f"--gin_bindings=csv_data.eval_files = '{t / 'tags.csv'}'"
    ], "tags.csv: the label has 2 tags for the 3 words of 'Return the value.' (one tag per "
       "whitespace-separated word). Fix the label column"),
    ("bert_sequence_too_long",
     lambda t, m, b: BERT(b["fixed_16"]) + ["--gin_bindings=MAX_SEQ_LENGTH = 64"],
     "bert_tokenization.max_seq_length = 64 but module"),
    ("bert_no_tokenization_info", lambda t, m, b: BERT(b["no_info"]),
     "has a 'tokens' signature but no tokenization_info signature to name its vocabulary; set "
     "bert_tokenization.vocab_file"),
    ("tf2_signature_fine_tuned", lambda t, m, b: [
        f"--gin_bindings=MODULE_HANDLE = '{tf2_builders.build_tf2_module(t / 'tf2', signatures=True)}'",
        "--gin_bindings=hub_module.signature = 'features'",
        "--gin_bindings=hub_module.output_key = 'features'"
    ], "cannot be fine-tuned (hub.KerasLayer trains only the SavedModel's __call__"),
    ("tf2_on_tpu_runtime", lambda t, m, b: [
        f"--gin_bindings=MODULE_HANDLE = '{tf2_builders.build_tf2_module(t / 'tf2')}'",
        "--gin_bindings=experiment.runtime = @tpu_runtime()",
        "--gin_bindings=training.steps_per_run = 1"
    ], "is a TF2 SavedModel, which tpu_runtime does not run"),
    ("tf1_saved_model_handle", lambda t, m, b: [
        f"--gin_bindings=MODULE_HANDLE = '{tf2_builders.build_tf1_saved_model(t / 'tf1_sm')}'"
    ], "is a TF1 SavedModel (saved_model.pb without tfhub_module.pb and without TF2 objects)"),
    ("bert_sequence_output_unpooled",
     lambda t, m, b: BERT(b) + ["--gin_bindings=hub_module.output_key = 'sequence_output'"],
     "Set hub_module.pooling = \"first\", \"mean\" or \"max\""),
    ("two_modules_same_export_name", lambda t, m, b: [
        "--gin_bindings=experiment.module = [@a/hub_module(), @b/hub_module()]"
    ], "a/hub_module and b/hub_module have the same export_name 'digits'; set "
       "b/hub_module.export_name to another name"),
    ("scoped_module_bad_signature", lambda t, m, b: [
        "--gin_bindings=experiment.module = [@a/hub_module(), @b/hub_module()]",
        "--gin_bindings=b/hub_module.export_name = 'b'",
        "--gin_bindings=b/hub_module.signature = 'nope'"
    ], "Set b/hub_module.signature to one of those"),
    ("pair_of_three_inputs", lambda t, m, b: [
        "--gin_bindings=hub_module.input_mapping = [{'pixels': 'pixels'}, {'pixels': 'a'}, "
        "{'pixels': 'b'}]",
        "--gin_bindings=hub_module.combine = 'pair'"
    ], "hub_module.combine = 'pair' compares exactly two applications of the module, but "
       "hub_module.input_mapping gives 3"),
    ("binding_never_built", lambda t, m, b: ["--gin_bindings=tpu_runtime.iterations_per_loop = 5"],
     "tpu_runtime.iterations_per_loop is set, but the config builds no tpu_runtime"),
    ("gin_file_url", lambda t, m, b: ["--gin_file=https://127.0.0.1:1/task.gin"],
     "gin files are read from local paths and the file systems TensorFlow reads (gs://)"),
    ("csv_semicolons", lambda t, m, b: [
        "--gin_bindings=csv_data.train_files = "
        f"'{write(t / 'semi.csv', csv_rows(ROW + ',odd').replace(',', ';'))}'"
    ], "it looks ';'-separated: set csv_data.field_delim = ';'"),
]


def TFRECORD(path):  # noqa: N802  (reads as a constant in the table above)
  """Arguments that switch the digits task to TFRecord data in `path`."""
  return [
      "--gin_bindings=experiment.data = @tfrecord_data()",
      f"--gin_bindings=tfrecord_data.train_files = '{path}'",
      f"--gin_bindings=tfrecord_data.eval_files = '{path}'",
      "--gin_bindings=tfrecord_data.feature_spec = {'pixels': ('float', [64])}",
      "--gin_bindings=tfrecord_data.label_key = 'label'",
      "--gin_bindings=binary_class_head.label_vocabulary = None"
  ]


def records(path, n=4, label=1, leave_out=None, compression=""):
  """A TFRecord file of `n` digits-like Examples."""
  with tf.io.TFRecordWriter(str(path), tf.io.TFRecordOptions(compression)) as writer:
    for _ in range(n):
      feature = {
          "pixels": tf.train.Feature(float_list=tf.train.FloatList(value=[0.5] * 64)),
          "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))
      }
      feature.pop(leave_out, None)
      writer.write(tf.train.Example(features=tf.train.Features(
          feature=feature)).SerializeToString())
  return str(path)


def replaced(module, path, name, content):
  """A copy of `module` at `path` whose file `name` holds `content`."""
  shutil.copytree(module, path)
  (path / name).write_bytes(content)
  return str(path)


def corrupt(path):
  """Flips bytes in the middle of the file (a record's data: its CRC no longer matches)."""
  data = bytearray(open(path, "rb").read())
  middle = len(data) // 2
  data[middle:middle + 8] = bytes(b ^ 0xFF for b in data[middle:middle + 8])
  open(path, "wb").write(bytes(data))
  return path


def trained_model_dir(tmp_path, handle):
  """A model_dir trained for 3 steps (a case resumes it with a mistake)."""
  model_dir = tmp_path / "trained"
  code, _ = run_command(base_args(tmp_path, handle)[:-1] +
                        [f"--model_dir={model_dir}", "--schedule=train"])
  assert code == 0
  train.FLAGS.unparse_flags()
  return str(model_dir)


def BERT(handle):  # noqa: N802  (reads as a constant in the table above)
  """Arguments that switch a case to the BERT-style classifier config on `handle`."""
  handle = handle["bert"] if isinstance(handle, dict) else handle
  return ["--gin_file=text/bert_classifier.gin", f"--gin_bindings=MODULE_HANDLE = '{handle}'",
          "--gin_bindings=MAX_SEQ_LENGTH = 16"]



def run_command(args, capsys=None):
  """Runs `finetune.train` in-process with `args`; (exit code, captured output or None)."""
  train.FLAGS.unparse_flags()
  train.FLAGS(["finetune.train"] + args)
  code = train.main(["finetune.train"])
  return code, capsys.readouterr() if capsys else None


def base_args(tmp_path, handle):
  return [
      "--gin_file=digits/finetune.gin", f"--gin_bindings=MODULE_HANDLE = '{handle}'",
      "--gin_bindings=TRAIN_STEPS = 3", "--gin_bindings=learning_rate_schedule."
      "warmup_steps = 0", f"--model_dir={tmp_path / 'model'}"
  ]
