"""The demo: a clearly labelled project with invented usage and delivery data.

`generator` invents the data (pure, seeded); `store` writes it through the same
ingest service as real traffic, with the demo login.
"""
