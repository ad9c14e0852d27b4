"""Per-component benchmark cases (``case_*.py``), discovered by the runner."""
