"""Support for the tests and benchmarks, not for training or decoding: nothing in the
rest of the package imports it (``tests/test_package_layout.py`` checks)."""
