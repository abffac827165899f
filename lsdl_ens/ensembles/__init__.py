"""Ensembling methods: deep ensembles and their Bayesian / snapshot alternatives, plus the DEE yardstick."""

from .dee import dee
