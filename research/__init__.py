"""Research scripts, run by hand and never imported by the product: recipe searches for the model
kinds (`head_search`, `finetune_search`) and the speed benchmark (`bench`). Their results are kept
in experiments/ and logged to MLflow."""
