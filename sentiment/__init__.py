"""News and social sentiment: sources and scorers. Knows nothing of trading."""
