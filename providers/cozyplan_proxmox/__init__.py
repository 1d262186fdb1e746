"""cozyplan provider: proxmox (under construction)."""
