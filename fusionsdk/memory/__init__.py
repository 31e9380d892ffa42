"""Memory shared by every model of a graph: stores, embedders, chunking and ingestion.

Contracts in :mod:`fusionsdk.memory.base`; built-in stores in :mod:`fusionsdk.memory.stores`
(ChromaDB: embedded, server, in memory) and embedders in :mod:`fusionsdk.memory.embedders`;
:func:`fusionsdk.memory.ingest.ingest` reads, chunks, labels and stores files;
:class:`fusionsdk.memory.hub.MemoryHub` builds a config's ``memory:`` section through the registry.
"""
