"""batchtui: see into OpenAI Batch API jobs from the terminal."""

__version__ = "0.1.0"  # the one place the version is kept: pyproject.toml reads it from here
