"""fusionsdk.cli."""
