"""The registry proxy's management commands: distribution in the foreground, signing-key rotation."""
