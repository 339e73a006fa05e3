"""slamon daemon: probes HTTP services, stores their history and streams it over a Unix socket."""

__version__ = "0.1.0"
