"""What the screens know, without Textual or I/O: the dashboard, incidents, admin tables."""
