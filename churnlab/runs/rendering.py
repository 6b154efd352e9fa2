"""Render an executed notebook to the report's self-contained HTML page (code hidden)."""

from __future__ import annotations

import logging
from pathlib import Path

from churnlab.runs.resources import template_dir


def render_html(notebook: Path, html: Path) -> None:
    """Render an executed notebook to a self-contained HTML page with the code hidden.

    Uses churnlab's template (JupyterLab's look with every CDN script removed), drops input
    cells, prompts and stderr streams (warnings are not part of a report); figures are
    already embedded as base64 PNG in the notebook.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [
                o
                for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    quiet = logging.getLogger("churnlab.html")
    quiet.setLevel(logging.ERROR)  # nbconvert warns that figures have no alt text
    exporter = HTMLExporter(
        log=quiet,
        template_name="churnlab",
        extra_template_basedirs=[str(template_dir())],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        anchor_link_text="",
    )
    body, _ = exporter.from_notebook_node(nb)
    html.write_text(body, encoding="utf-8")
