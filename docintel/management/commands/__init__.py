"""The project's commands: ``bootstrap_demo`` (demo accounts) and ``runportal`` (the whole portal, ``make run``)."""
