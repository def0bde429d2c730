"""batchtui: see into OpenAI Batch API jobs from the terminal."""

__version__ = "0.1.0"
