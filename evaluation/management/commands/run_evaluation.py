"""``manage.py run_evaluation``: run the evaluation inside the portal, store an EvaluationRun, write the reports."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evaluation.services.report import report_write
from evaluation.services.runner import EvaluationConfig, evaluation_run

PARTS = ("qa", "ragas", "direct", "indirect", "questions")


class Command(BaseCommand):
    """Run the suite with the scope's defaults and any size overrides; print the report and where it was written."""

    help = "Evaluate answers (XQuAD, RAGAS) and safety (garak, spikee); store an EvaluationRun and write reports."

    def add_arguments(self, parser: CommandParser) -> None:
        """The scope (``fast``/``full``), the parts to run, per-part sizes, keeping the corpus, the report folder."""
        parser.add_argument("--scope", choices=("fast", "full"), default="full")
        parser.add_argument("--parts", default="", help=f"comma-separated subset of {','.join(PARTS)}")
        parser.add_argument("--questions-per-language", type=int, default=None)
        parser.add_argument("--articles-per-language", type=int, default=None)
        parser.add_argument("--unanswerable-per-language", type=int, default=None)
        parser.add_argument("--ragas-per-language", type=int, default=None)
        parser.add_argument("--direct-attacks", type=int, default=None)
        parser.add_argument("--indirect-attacks", type=int, default=None)
        parser.add_argument("--keep-documents", action="store_true", help="keep the evaluation corpus afterwards")
        parser.add_argument("--reports-dir", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        """Build the :class:`EvaluationConfig`, run it, write the JSON and Markdown reports and print the Markdown.

        Raises:
            CommandError: ``--parts`` names a part that does not exist.
        """
        config = EvaluationConfig.fast() if options["scope"] == "fast" else EvaluationConfig.full()
        overrides = {
            "qa_questions_per_language": options["questions_per_language"],
            "qa_articles_per_language": options["articles_per_language"],
            "unanswerable_per_language": options["unanswerable_per_language"],
            "ragas_questions_per_language": options["ragas_per_language"],
            "direct_attacks": options["direct_attacks"],
            "indirect_attacks": options["indirect_attacks"],
        }
        config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
        if options["parts"]:
            parts = tuple(p.strip() for p in options["parts"].split(",") if p.strip())
            unknown = set(parts) - set(PARTS)
            if unknown:
                raise CommandError(f"unknown parts: {', '.join(sorted(unknown))}")
            config = replace(config, parts=parts)
        config = replace(config, keep_documents=options["keep_documents"])
        run = evaluation_run(config=config, progress=lambda line: self.stdout.write(f"· {line}"))
        folder = Path(options["reports_dir"]) if options["reports_dir"] else None
        json_path, md_path = report_write(run, folder=folder)
        self.stdout.write(run.report_markdown)
        self.stdout.write(self.style.SUCCESS(f"evaluation run {run.pk} {run.status}: {json_path} {md_path}"))
