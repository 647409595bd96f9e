"""Local inference: scorers that run a model in this process (cross-encoders, query likelihood)."""
