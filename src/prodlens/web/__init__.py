"""The dashboard: the built single-page app (``dist/``, built from ``web/``) and its routes."""
