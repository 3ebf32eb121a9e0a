"""Training side as a pipeline: labels → out-of-time split → fit → evaluate → MLflow → gates."""
