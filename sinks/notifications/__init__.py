"""Delivering notifications: one module per channel behind one small interface
(:mod:`sinks.notifications.channel`), and the worker that drives them."""
