"""MLflow "model from code": one pyfunc wrapper that serves every reviewtag model kind.

Logged by path (never pickled). Input: a DataFrame with a `text` column; output: one probability
column per label, in the model's sorted label order.
"""

from __future__ import annotations

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class ReviewtagModel(PythonModel):
    def load_context(self, context) -> None:
        from pipelines.modeling.registry import load_classifier

        self.model = load_classifier(context.artifacts["model_dir"])

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        texts = model_input["text"].fillna("").astype(str).tolist()
        return pd.DataFrame(self.model.predict_proba(texts), columns=self.model.labels)


mlflow.models.set_model(ReviewtagModel())
