"""Modelling: one classifier interface (`base`), a registry of kinds (`registry`), the kinds
(`kinds/`), encoders and heads they are built from, training, resolving `--model`, and refitting."""
