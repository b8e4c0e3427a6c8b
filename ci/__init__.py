"""CI helpers run by the GitHub workflows (standard library only)."""
