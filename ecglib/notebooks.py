"""Committed notebooks stay as committed when opened, saved or run in JupyterLab.

JupyterLab adds the kernel's ``language_info`` (with the exact Python version) to a
notebook's metadata on its first autosave, and running cells adds outputs and execution
counts; none of that belongs in the repository. :func:`clean_notebook_text` removes them.
It is installed as a git "clean" filter by ``make setup`` (``.gitattributes`` names the
notebooks), so ``git diff`` and ``git add`` see the notebook as committed while the working
file keeps whatever JupyterLab wrote. Run by hand: ``python -m ecglib.notebooks < in.ipynb``.
"""

from __future__ import annotations

import sys

#: notebook-level metadata that JupyterLab or an extension writes on open or save
VOLATILE_METADATA = ("language_info", "widgets", "varInspector", "toc", "vscode")
#: name of the git filter (``git config filter.<name>.clean``) and in ``.gitattributes``
GIT_FILTER = "ecglib-notebook"


def clean_notebook_text(text: str) -> str:
    """The notebook JSON ``text`` without volatile metadata, outputs or execution counts.

    The result is written as ``nbformat`` writes it (one-space indent, trailing newline), so
    a committed clean notebook comes back byte for byte.
    """
    import nbformat

    notebook = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    for key in VOLATILE_METADATA:
        notebook.metadata.pop(key, None)
    for cell in notebook.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    out = nbformat.writes(notebook)
    return out if out.endswith("\n") else out + "\n"


def main() -> int:
    """Git clean filter: notebook JSON on stdin, cleaned JSON on stdout (unparseable input passes through)."""
    text = sys.stdin.read()
    try:
        cleaned = clean_notebook_text(text)
    except Exception:  # noqa: BLE001 - a filter must never lose a file git is asked to store
        cleaned = text
    sys.stdout.write(cleaned)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
