"""Study-specific glue too large for a notebook cell (one module per study id)."""
