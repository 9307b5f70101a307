"""The next-workout recommender (PyTorch, CPU, seeded): the kind of a user's next
workout, one of the 63 of fitstream.domain.workout_kind.KINDS (sport, duration band,
intensity), from their latest three workouts and recent load (feature service
next_workout_v1).

- sequences.py: the examples (label: the next completed workout's kind) and the
  most-frequent and most-recent baselines, from the completed-workout log;
- network.py: the feature encoding and the small MLP, deterministic for a seed;
- pyfunc.py: the MLflow pyfunc (NEXT_WORKOUT.outputs: 3 ranked kinds with
  probabilities);
- training.py: point-in-time training data, the chronological holdout with the
  baselines, the loss curve, the MLflow run and the @challenger registration.
"""

from models.recommender.training import holdout_score, train

__all__ = ["holdout_score", "train"]
