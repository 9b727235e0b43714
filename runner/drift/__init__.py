"""Drift: where the cluster moved away from Git, found with a LIST per kind rather than a GET
per object, reported, and (with --correct) put back through the apply engine."""
