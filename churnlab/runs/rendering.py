"""Render an executed notebook to the report's self-contained HTML page (code hidden)."""

from __future__ import annotations

import logging
from pathlib import Path

from churnlab.runs.resources import template_dir


def page_title(nb) -> str | None:
    """The title a cell gave the page (``churnlab.report.views.page_title``), or None.

    It travels in an output's metadata (``{"churnlab": {"title": ...}}``) because only the
    executed notebook knows it (the report month may be resolved from the data).
    """
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            title = output.get("metadata", {}).get("churnlab", {}).get("title")
            if isinstance(title, str) and title.strip():
                return title.strip()
    return None


def title_notebook(notebook: Path) -> str | None:
    """Store the page title a cell set as the executed notebook's metadata title."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    title = page_title(nb)
    if title and nb.metadata.get("title") != title:
        nb.metadata["title"] = title
        nbformat.write(nb, str(notebook))
    return title


def render_html(notebook: Path, html: Path) -> None:
    """Render an executed notebook to a self-contained HTML page with the code hidden.

    Uses churnlab's template (JupyterLab's look with every CDN script removed), drops input
    cells, prompts and stderr streams (warnings and stage lines are not part of a report);
    figures are already embedded as base64 PNG in the notebook. The page's ``<title>`` is the
    one a cell set (:func:`page_title`), else the notebook's metadata title.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    title = page_title(nb)
    if title:
        nb.metadata["title"] = title
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = [
                o
                for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    quiet = logging.getLogger("churnlab.html")
    quiet.setLevel(logging.ERROR)  # nbconvert's warnings (figures of other notebooks' alt text)
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
