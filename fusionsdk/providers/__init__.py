"""fusionsdk.providers."""
