"""Built-in memory stores (plugins of ``fusionsdk.memory``), all on ChromaDB:
``chroma`` (embedded, on disk), ``chroma_server`` (a Chroma server) and ``ephemeral`` (in memory)."""
