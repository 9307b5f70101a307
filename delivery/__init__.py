"""Delivering notifications: one module per channel behind one small interface
(:mod:`delivery.channel`), and the worker that drives them."""
