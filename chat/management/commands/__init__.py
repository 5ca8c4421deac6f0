"""The chat app's management commands: none at present (``run_evaluation`` belongs to the evaluation app)."""
