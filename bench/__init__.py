"""On-demand benchmarks; results are recorded in the README."""
