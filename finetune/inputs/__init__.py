"""Data sources: tf.data input_fns and serving receivers for CSV files, TFRecords, image
folders and (from Python) arrays. Each source knows its per-example feature specs, which the
module is checked against before training."""
