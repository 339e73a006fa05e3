"""Alerting (SPEC §3.8, issue 11): channels, rules, suppression and durable delivery.

The rooms of this package:

* ``model``      severities, rules, notifications, delivery results (pure data)
* ``fields``     the template fields of a notification; the sandboxed webhook template
* ``config``     [alerts], [[alert_channel]] and the alert keys of a [[service]]
* ``channels/``  one sender per receiver type, ``build_channel`` from a config
* ``secretbox``  AES-GCM sealing of channel secrets stored in the database
* ``redact``     masking of secrets in text, URLs and reprs
* ``engine``     the clock-driven alert rules: events and time in, notifications and
  alert-state changes out (no I/O)
* ``burnrate``   the SRE workbook's multi-window, multi-burn-rate SLO alerts
* ``outbox``     at-least-once delivery of the outbox over a small storage Protocol
"""
