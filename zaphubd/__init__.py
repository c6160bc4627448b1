"""zaphubd: a self-hosted multi-session WhatsApp gateway daemon."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("zaphubd")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
