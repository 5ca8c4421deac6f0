"""The evaluation's command: ``run_evaluation`` (``make eval``; its fast subset runs in ``make test``)."""
