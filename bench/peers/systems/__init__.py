"""One module per system; each imports its framework only when the system is built."""

NAMES = ("ragline", "llamaindex", "langchain", "haystack")


def get(name: str):
    """A fresh system object by name (imports that framework)."""
    if name == "ragline":
        from systems.ragline_sys import RaglineSystem

        return RaglineSystem()
    if name == "llamaindex":
        from systems.llamaindex_sys import LlamaIndexSystem

        return LlamaIndexSystem()
    if name == "langchain":
        from systems.langchain_sys import LangChainSystem

        return LangChainSystem()
    if name == "haystack":
        from systems.haystack_sys import HaystackSystem

        return HaystackSystem()
    raise ValueError(f"unknown system {name!r}; choose from {', '.join(NAMES)}")
