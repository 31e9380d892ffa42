"""fusionsdk.tools."""
