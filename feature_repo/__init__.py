"""The Feast repo: `feast apply` here (or `fitstream features apply`) registers these."""
