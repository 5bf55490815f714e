"""Delivery data from outside: the GitHub webhook and the GitHub backfill."""
