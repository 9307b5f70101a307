"""Race-time prediction (XGBoost): a user's 5 km, 10 km and half-marathon times as a
learned correction to Riegel's formula, T2 = T1 · (D2 / D1)^1.06, from their recent best
efforts and training volume (feature service race_time_v1).

- riegel.py: the formula, the anchor (the known best closest in ratio to the target)
  and the labels, from the completed-workout log only;
- model.py: the pooled XGBoost model of log(actual / Riegel), early-stopped so that it
  stays near Riegel where Riegel is right;
- pyfunc.py: the MLflow pyfunc (RACE_TIME.outputs, NaN without a best effort);
- training.py: point-in-time training data, the chronological holdout with Riegel as
  the baseline, the MLflow run and the @challenger registration.
"""

from models.race_time.training import holdout_score, train

__all__ = ["holdout_score", "train"]
