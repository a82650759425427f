"""The built-in auth types, each one plugin module loaded by entry point."""
