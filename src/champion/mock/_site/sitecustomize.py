"""Put first on PYTHONPATH by `champion mock --` (see `champion.mock`): arms the fakes of the
Azure ML SDKs in every Python process of the command, then runs the `sitecustomize` it shadows.
A failure here must not break an unrelated interpreter, so it is reported in one line."""

try:
    from champion.mock import from_environment
except ImportError as exc:  # champion is not importable by this interpreter
    import sys

    sys.stderr.write(f"champion mock: the fakes are not active in this process ({exc})\n")
else:
    from_environment()
