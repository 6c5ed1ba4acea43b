"""What a finetune process owns besides the model: SIGTERM/SIGINT handling and the phase an
interruption names, the model_dir lock, and whether another process is alive. No TensorFlow
here: commands enter the signal handling before TensorFlow loads."""
