"""fusionsdk.fusion."""
