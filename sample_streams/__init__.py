"""Seeded synthetic milestone streams (contract v1) for demos, tests and benchmarks."""
