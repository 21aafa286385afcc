"""Evaluation: metrics (`metrics`), reports and model comparisons (`reports`), figures (`plots`).

The stages, the CLI and the research scripts score models through these modules only, so a figure
in the README, in MLflow and in a compare report is computed one way.
"""
