"""Placeholder: the end-to-end test replaces this module with the one `oasys-migrate guide` generates."""
