"""cozyplan provider: host (under construction)."""
