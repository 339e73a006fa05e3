"""Tests of slamon_daemon (a package so module names never clash with tests/tui)."""
