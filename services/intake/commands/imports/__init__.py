"""Bulk import of leads from CSV, with a field mapping, historical outcomes and a per-row error report."""
