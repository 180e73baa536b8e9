"""API keys for cloud providers: an encrypted store, an index without secrets, and rotation between keys."""
