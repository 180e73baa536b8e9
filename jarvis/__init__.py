"""Jarvis Workbench: a local-first terminal workbench for local language models."""

__version__ = "0.1.0"
