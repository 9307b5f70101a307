"""The AI engine: one package per model (training, evaluation, a pyfunc for serving),
and what they share: MLflow tracking, the registry and its promotion gate, chronological
evaluation, and point-in-time training data from Feast. See fitstream/model_catalogue.py.
"""
