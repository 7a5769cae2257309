"""Benchmarks of SPEC section 10, run by `./dev bench`."""
