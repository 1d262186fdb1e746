"""cozyplan provider: talos (under construction)."""
