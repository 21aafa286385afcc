"""Thin DVC entry points, one module per stage: arguments from dvc.yaml's command line, params, one
library call. Product code never imports them."""
