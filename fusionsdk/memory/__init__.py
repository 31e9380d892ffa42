"""fusionsdk.memory."""
