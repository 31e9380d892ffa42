"""fusionsdk.graph."""
