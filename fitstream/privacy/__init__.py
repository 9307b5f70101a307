"""Privacy: erasing a user (GDPR) and keeping personal fields erasable in the log."""
