"""Local mode: the whole system on one machine (see DESIGN.md, Local mode)."""
