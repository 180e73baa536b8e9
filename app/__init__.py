"""App layer: the composition root (config, CLI, TUI) that builds the engine and renders its events."""
