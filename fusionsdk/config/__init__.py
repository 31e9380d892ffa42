"""fusionsdk.config."""
