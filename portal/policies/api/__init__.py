"""The tag policies API: immutability rules, tag history and restore, retention policies and runs."""
