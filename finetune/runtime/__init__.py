"""Where and how a run executes: RunConfig settings, the Estimator and TPUEstimator runtimes,
TF_CONFIG cluster roles, model_dir checks and lock, pre-emption, and runtime errors explained."""
