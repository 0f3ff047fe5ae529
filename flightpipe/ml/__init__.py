"""ML: delay features, model training, the model registry and scoring on silver."""
