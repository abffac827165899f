"""Experiments: cached runs and studies built on the algorithm families (the layer the chapters and benchmarks call)."""
