"""Logs and metrics shared by every FitStream process."""
