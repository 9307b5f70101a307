"""Scoring on the stream (``fitstream score``): each completed workout's feature row scored
by every model's ``@champion``, from Feast's online store, into the prediction topics.

``predictions`` builds the records (pure); ``scorer`` is the loop on the sink runner.
"""
