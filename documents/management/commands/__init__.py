"""The documents app's commands: bulk import, and serving, migrating, backing up and restoring the vector store."""
