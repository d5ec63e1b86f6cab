"""autograder: release course notebooks, grade pairs' submissions in a sandbox, build the gradebook."""

import sys

__version__ = "0.1.0"


def _skip_iri_grammar() -> None:
    """Every command reads notebooks with nbformat, which imports jsonschema, which imports
    rfc3987_syntax where it is installed (Jupyter's stack brings it) to check the "iri" string
    format: it compiles a grammar at import, 0.7 s on a quiet machine, 1.6 s on a loaded one, in
    every process. No notebook schema uses that format; jsonschema does without the module."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: "absent"


_skip_iri_grammar()
