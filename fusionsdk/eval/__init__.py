"""fusionsdk.eval."""
