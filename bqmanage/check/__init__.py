"""Check: findings (drift of the actual warehouse against the desired) and the legacy-name audit."""
