"""The Textual workbench: a renderer of the engine's event stream. Imports nothing heavy at module level."""
