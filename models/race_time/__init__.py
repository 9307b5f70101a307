"""Race-time prediction: a user's 5 km, 10 km and half-marathon times as a learned
correction to Riegel's formula from their recent best efforts (see riegel.py, model.py).
"""
