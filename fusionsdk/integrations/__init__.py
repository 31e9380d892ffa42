"""fusionsdk.integrations: bridges to other ecosystems (LangChain)."""
