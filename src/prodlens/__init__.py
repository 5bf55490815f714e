"""ProdLens: what AI coding assistants do for engineering teams."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("prodlens")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
