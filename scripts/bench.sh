#!/usr/bin/env bash
# The benchmark suite (see README.md, Performance): e.g. scripts/bench.sh --scale 0.1 --out benchmarks/results
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
exec "$UV" run --frozen python -m benchmarks.run "$@"
