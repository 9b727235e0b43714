"""Applying: server-side apply in Flux's stages, health waits, inventory and pruning."""
