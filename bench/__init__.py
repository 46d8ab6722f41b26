"""sockwise benchmarks: each runs sockwise and its peers in the same run and prints ratios."""
