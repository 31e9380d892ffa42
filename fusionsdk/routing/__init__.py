"""fusionsdk.routing."""
