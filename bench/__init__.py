"""Benchmarks (not shipped): ``python bench/launch.py --help``."""
