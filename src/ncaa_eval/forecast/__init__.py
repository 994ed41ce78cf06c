"""Forecasts for a season from a tracked run: pairwise probabilities, submissions, brackets."""
