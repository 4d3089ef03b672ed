"""Repositories, artifacts and tags."""

from __future__ import annotations

from django.db import models

from portal.projects.models import Project


class Repository(models.Model):
    """`project/name[/…]` as pushed; `name` is the full path including the project."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="repositories")
    name = models.CharField(max_length=512, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
