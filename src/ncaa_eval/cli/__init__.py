"""The ``ncaa-eval`` command line: thin Click commands over the library."""
