"""Reports: aggregates of the book, computed in SQL within the user's scope."""
