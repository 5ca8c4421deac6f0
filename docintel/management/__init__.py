"""Django's management-command hook of the project package (the commands are in ``commands/``)."""
