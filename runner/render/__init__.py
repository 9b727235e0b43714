"""Rendering: Flux Kustomizations built into the objects kustomize-controller would apply."""
