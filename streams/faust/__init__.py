"""The Faust engine adapter. Run with ``fitstream process`` (a Faust worker)."""
