"""The SQL engines slamon runs on: what differs between them (base.py holds the interface)."""
