"""A model-free Docling layout stage: text blocks from line positions, headings from line height.

Registered in Docling's layout factory as kind ``docintel_heuristic_layout`` (see :func:`register`), so Docling's
standard PDF/image pipeline runs with it instead of the layout model from the model hub: pages, boxes, reading order
and OCR keep working; headings are the lines clearly taller than the page's body text. No tables (no model).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from docling.datamodel.base_models import Cluster, LayoutPrediction, Page
from docling.datamodel.document import ConversionResult
from docling.datamodel.pipeline_options import BaseLayoutOptions
from docling.models.base_layout_model import BaseLayoutModel
from docling_core.types.doc.base import BoundingBox, CoordOrigin
from docling_core.types.doc.labels import DocItemLabel

HEADING_RATIO = 1.25
MAX_HEADING_CHARS = 150
MAX_HEADING_LINES = 3
MIN_SCAN_AREA = 0.05


class HeuristicLayoutOptions(BaseLayoutOptions):
    """Options of :class:`HeuristicLayoutModel`."""

    kind: ClassVar[str] = "docintel_heuristic_layout"
    heading_ratio: float = HEADING_RATIO


def _top_left(cell: Any, page_height: float) -> BoundingBox:
    box: BoundingBox = cell.rect.to_bounding_box()
    if box.coord_origin != CoordOrigin.TOPLEFT:
        box = box.to_top_left_origin(page_height=page_height)
    return box


class HeuristicLayoutModel(BaseLayoutModel):
    """Groups a page's text lines into paragraph and heading clusters; needs no weights."""

    # Docling's post-processor assigns the OCR cells (found after this stage) to the scan regions emitted here.
    requires_layout_postprocessing: bool = True

    def __init__(
        self,
        artifacts_path: Path | None,
        accelerator_options: Any,
        options: HeuristicLayoutOptions,
        enable_remote_services: bool = False,
    ) -> None:
        """Keep the options; the layout factory passes the other arguments to every layout model.

        Args:
            artifacts_path: where model weights would be (unused: no weights).
            accelerator_options: Docling's device options (unused: no model runs).
            options: the heading ratio.
            enable_remote_services: Docling's switch for remote models (unused).
        """
        self.options = options
        self.artifacts_path = artifacts_path
        self.accelerator_options = accelerator_options

    @classmethod
    def get_options_type(cls) -> type[HeuristicLayoutOptions]:
        """The options class Docling's layout factory matches against ``kind``.

        Returns:
            :class:`HeuristicLayoutOptions`.
        """
        return HeuristicLayoutOptions

    def predict_layout(self, conv_res: ConversionResult, pages: Sequence[Page]) -> Sequence[LayoutPrediction]:
        """One layout prediction per page: paragraph and heading clusters from its text lines, plus scan regions.

        Args:
            conv_res: the conversion under way (unused: each page carries what is needed).
            pages: the pages of this batch.

        Returns:
            The pages' predictions, in order.
        """
        return [LayoutPrediction(clusters=self._page_clusters(page)) for page in pages]

    def _page_clusters(self, page: Page) -> list[Cluster]:
        if page.size is None:
            return []
        height = page.size.height
        lines = [(cell, _top_left(cell, height)) for cell in page.cells if cell.text.strip()]
        scans = self._scan_regions(page, height)
        if not lines:
            return scans
        lines.sort(key=lambda item: (round(item[1].t), item[1].l))
        body = statistics.median(max(box.height, 1.0) for _, box in lines)
        groups: list[list[tuple[Any, BoundingBox]]] = []
        for cell, box in lines:
            is_heading = box.height >= body * self.options.heading_ratio
            target = None
            for group in reversed(groups[-8:]):
                last = group[-1][1]
                overlap = min(box.r, last.r) - max(box.l, last.l)
                gap = box.t - last.b
                if (
                    overlap > 0
                    and -body < gap < body * 0.9
                    and (last.height >= body * self.options.heading_ratio) == is_heading
                ):
                    target = group
                    break
            if target is None:
                groups.append([(cell, box)])
            else:
                target.append((cell, box))
        clusters: list[Cluster] = []
        for group in groups:
            box = BoundingBox(
                l=min(b.l for _, b in group),
                t=min(b.t for _, b in group),
                r=max(b.r for _, b in group),
                b=max(b.b for _, b in group),
                coord_origin=CoordOrigin.TOPLEFT,
            )
            text_len = sum(len(c.text) for c, _ in group)
            heading = (
                group[0][1].height >= body * self.options.heading_ratio
                and text_len <= MAX_HEADING_CHARS
                and len(group) <= MAX_HEADING_LINES
            )
            label = DocItemLabel.SECTION_HEADER if heading else DocItemLabel.TEXT
            cells = [c for c, _ in group]
            clusters.append(Cluster(id=len(clusters), label=label, bbox=box, confidence=0.9, cells=cells))
        for scan in scans:
            scan.id = len(clusters)
            clusters.append(scan)
        return clusters

    @staticmethod
    def _scan_regions(page: Page, height: float) -> list[Cluster]:
        """Regions OCR must read: embedded images of a PDF page, or the whole page when it has no text layer."""
        assert page.size is not None
        boxes: list[BoundingBox] = []
        if page.parsed_page is not None:
            for bitmap in page.parsed_page.bitmap_resources:
                box = bitmap.rect.to_bounding_box()
                if box.coord_origin != CoordOrigin.TOPLEFT:
                    box = box.to_top_left_origin(page_height=height)
                if box.area() >= MIN_SCAN_AREA * page.size.width * page.size.height:
                    boxes.append(box)
        if not boxes and not any(c.text.strip() for c in page.cells):
            boxes.append(BoundingBox(l=0, t=0, r=page.size.width, b=height, coord_origin=CoordOrigin.TOPLEFT))
        return [
            Cluster(id=i, label=DocItemLabel.TEXT, bbox=box, confidence=0.9, cells=[]) for i, box in enumerate(boxes)
        ]


def register() -> None:
    """Register the layout stage in Docling's layout factory (idempotent)."""
    from docling.models.factories import get_layout_factory

    for allow_external in (False, True):
        factory = get_layout_factory(allow_external_plugins=allow_external)
        if HeuristicLayoutOptions not in factory.classes:
            factory.register(HeuristicLayoutModel, "docintel", __name__)
