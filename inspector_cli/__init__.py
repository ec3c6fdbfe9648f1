"""The `inspector` command line (fit, infer, calibrate, info) and the installation self-test.

A client of the engine: it uses only `inference`'s public API, parses arguments,
prints, and turns engine errors into exit codes.
"""
