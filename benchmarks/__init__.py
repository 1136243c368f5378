"""Benchmarks of KAM Health: `uv run python -m benchmarks.run --scale 0.1 --out benchmarks/results`."""
