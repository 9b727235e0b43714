"""Reporting: the run report, and its human, JSON and markdown forms."""
