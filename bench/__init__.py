"""Benchmarks: each runs the project and its peers on the same input in one run and prints
ratios. Results are committed under bench/results/ with the command that produced them."""
