"""An answer's edits to the user's attached files: asked for, parsed, validated, diffed, applied, undone."""
