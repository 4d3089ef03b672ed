"""Repositories, artifacts and tags."""
