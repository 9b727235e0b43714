"""Discovery: the Flux Kustomizations of a cluster path, their sources and dependencies."""
