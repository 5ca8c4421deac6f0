"""Django's management-command hook of the evaluation app (the command is in ``commands/``)."""
