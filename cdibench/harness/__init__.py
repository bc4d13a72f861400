"""Suites, the runner, executors, the memory estimate, the FFT floor and provenance."""
