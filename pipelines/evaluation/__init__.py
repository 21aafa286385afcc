"""Evaluation: the one scorer (`scoring`), the temporal-split evaluation the evaluate stage runs
(`temporal`), gold-file evaluation and model comparisons (`reports`), figures (`plots`).

The stages, the CLI and the research scripts score models through `scoring` only, so a figure in the
README, in MLflow, in meta.json and in a compare report is computed one way.
"""
