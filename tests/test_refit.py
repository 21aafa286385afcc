"""A refit: the recipe fitted on every labelled split, thresholds kept from the recipe, registered in
MLflow as a new version of the same model, linked to the recipe's run."""

import numpy as np

from pipelines.dataset import SplitData, TaskData
from pipelines.modeling.kinds.tfidf_linear import TfidfLinearClassifier
from pipelines.modeling.refit import refit, register
from pipelines.modeling.registry import load_classifier

from .conftest import use_project
from .helpers import LABELS, synthetic


def task_data() -> TaskData:
    splits = {}
    for seed, name in enumerate(("train", "validation", "test")):
        texts, y = synthetic(40, seed=seed)
        splits[name] = SplitData([f"{name}-{i}" for i in range(40)], texts, y, np.zeros(40, dtype=int))
    return TaskData("harm_type", LABELS, splits)


def test_refit_uses_every_labelled_split_and_is_registered_with_its_recipe(tmp_path, monkeypatch):
    from pipelines import tracking
    from pipelines.config import TrackingConfig

    use_project(tmp_path, monkeypatch)
    data = task_data()
    recipe = TfidfLinearClassifier("harm_type", LABELS, {"min_df": 1, "max_features": 2000})
    recipe.fit(data.splits["train"].texts, data.splits["train"].y)
    recipe.tune(data.splits["validation"].texts, data.splits["validation"].y)
    recipe.save(tmp_path / "models/harm_type/tfidf_linear")

    directory = refit(
        "harm_type",
        "tfidf_linear",
        data,
        min_support=5,
        recipe_root=tmp_path / "models",
        out_root=tmp_path / "models/refit",
    )
    model = load_classifier(directory)
    assert model.meta.extra["n_train"] == 120 and model.labels == LABELS
    np.testing.assert_allclose(model.thresholds, recipe.thresholds)  # nothing held out to tune on
    test = data.splits["test"]
    refit_hits = (model.predict(test.texts) == test.y).mean()
    assert refit_hits > 0.95  # it has seen these reviews: a check that it learned, not a quality figure

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = TrackingConfig(uri=f"sqlite:///{tmp_path}/mlflow.db", artifact_root=str(tmp_path / "mlartifacts"))
    tracking.configure(config)
    metrics = {"test": {"micro_f1": 0.9, "macro_f1": 0.9, "samples_f1": 0.9, "per_label": {}}}
    recipe_run = tracking.log_model_run(
        "harm_type", "tfidf_linear", tmp_path / "models/harm_type/tfidf_linear", metrics, [], config
    )
    registered = register("harm_type", "tfidf_linear", directory, config)
    assert registered["recipe_run_id"] == recipe_run["run_id"]
    assert (recipe_run["version"], registered["version"]) == ("1", "2")  # its own version of the same model
    import mlflow

    tags = mlflow.get_run(registered["run_id"]).data.tags
    assert tags["reviewtag.recipe_run_id"] == recipe_run["run_id"]
    assert tracking.recipe_run("harm_type", "tfidf_linear") == recipe_run["run_id"]  # a refit is never a recipe
