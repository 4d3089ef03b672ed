"""People: user accounts, passwords, personal access tokens and how callers prove who they are."""
