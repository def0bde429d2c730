"""A local, OpenAI-compatible Batch + Files API server with a deterministic fake model.

It lets the official SDK be the test client, gives users a demo without an account, and lets
them test their own batch code offline. It shares nothing with batchtui.core but JSON shapes.
"""

from .config import FAULTS_ENV, FaultConfig, SandboxConfig
from .server import SandboxServer, run_forever

__all__ = ["FAULTS_ENV", "FaultConfig", "SandboxConfig", "SandboxServer", "run_forever"]
