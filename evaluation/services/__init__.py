"""Evaluation of the answering service (issue 5): judge-free answer metrics, RAGAS, prompt-injection safety.

Entry point: :func:`evaluation.services.runner.evaluation_run` (``manage.py run_evaluation``, ``make eval``,
the fast subset in ``make test``). Heavy libraries load inside the functions that need them; RAGAS runs in its own
environment (``requirements/eval.txt``), see :mod:`evaluation.services.judge`.
"""
