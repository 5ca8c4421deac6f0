"""Benchmarks (``make bench``): each module prints its own numbers; ``python -m benchmarks`` runs them all."""
