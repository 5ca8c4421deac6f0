"""Template filters of the chat pages."""
