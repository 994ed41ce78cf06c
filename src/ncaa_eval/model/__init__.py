"""Forecasting models: the contract, the registry and the built-ins; ``tracking`` keeps runs."""
