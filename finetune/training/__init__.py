"""The model and how it learns: the one model_fn, heads and the head network, optimization
(optimizers, learning-rate regimes, per-part rates), the NaN guard and the in-graph loop."""
