"""Where and how a run executes: RunConfig settings, the Estimator and TPUEstimator runtimes,
TF_CONFIG cluster roles, model_dir checks and rollback, the pre-emption hook, and runtime
errors explained. (Signals and the model_dir lock, which commands need before TensorFlow
loads, are in process/.)"""
