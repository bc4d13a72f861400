"""asv benchmarks of cdibench: time_*, peakmem_* and track_* (accuracy), see benchmarks/README.md."""
