"""distribution as Berth uses it, below both the portal and the registry proxy: its client and the token issuer."""
