"""fusionsdk.arbiters."""
