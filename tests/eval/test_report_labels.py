"""The cost/accuracy chart never draws one label over another (issue 15)."""

from __future__ import annotations

import re

from fusionsdk.eval.report import scatter_svg


def _label_boxes(svg: str) -> list[tuple[float, float, float, float]]:
    boxes = []
    for x, y, text in re.findall(r'<text x="([\d.]+)" y="([\d.]+)" font-size="10">([^<]*)</text>', svg):
        boxes.append((float(x), float(y), 5.6 * len(text), 11.0))
    return boxes


def test_crowded_points_get_labels_that_do_not_overlap() -> None:
    points = {f"model-number-{i}": (0.001 * (i % 3), 0.9 + 0.0005 * i) for i in range(24)}
    svg = scatter_svg(points, [], "crowded")
    boxes = _label_boxes(svg)
    assert 0 < len(boxes) < len(points)  # some crowded names live in tooltips only
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap = a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] - a[3] < b[1] and b[1] - b[3] < a[1]
            assert not overlap, (a, b)
    assert svg.count("<title>") == len(points)  # every point still names itself


def test_spread_points_are_all_labelled() -> None:
    points = {"cheap": (0.0, 0.5), "middle": (0.5, 0.75), "dear": (1.0, 0.99)}
    assert len(_label_boxes(scatter_svg(points, [], "spread"))) == 3
