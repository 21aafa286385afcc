"""The model kinds, one module each; every module registers its kind with `pipelines.modeling.registry`."""
