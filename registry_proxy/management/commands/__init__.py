"""`manage.py run_registry` and `manage.py rotate_registry_key`."""
