"""The next-workout recommender: the kind (sport, duration band, intensity) of a user's
next workout from their latest workouts (see sequences.py, network.py).
"""
