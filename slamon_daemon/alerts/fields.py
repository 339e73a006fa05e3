"""The template fields of a notification, and the sandbox that renders webhook templates.

Every notification carries these fields (they are what the outbox stores); the ``webhook``
channel's ``body_template`` is a Jinja2 template over them, rendered in Jinja2's
``SandboxedEnvironment`` with ``StrictUndefined`` (a misspelt field is an error, found when
the configuration is loaded, not at 3 a.m.). The rendered body must be JSON; use the
``tojson`` filter for every value (``{"text": {{ title | tojson }}}``) so quotes and newlines
in service names or error messages cannot break it. Without a template the body is all the
fields as one JSON object.

======================  =====================================================================
field                   meaning
======================  =====================================================================
``event``               ``down``, ``recovery``, ``reminder``, ``incident_created``,
                        ``incident_updated``, ``incident_resolved``, ``tls_expiring``,
                        ``tls_renewed``, ``slo_burn``, ``slo_recovered``, ``test``
``action``              ``trigger`` (opens or repeats an alert), ``resolve`` (closes it),
                        ``info`` (tells without changing it)
``severity``            ``info``, ``warning`` or ``critical``
``title``               one line, e.g. ``"core-db down; 7 dependent services affected"``
``text``                the whole message as plain text (several lines)
``at``                  when it happened, RFC 3339 UTC (``2026-11-22T02:00:00+00:00``)
``key``                 the notification's stable key (the same on every retry)
``dedup_key``           the stable key of the outage, group or incident: a trigger, its
                        reminders and its resolve share it (PagerDuty ``dedup_key``,
                        Opsgenie ``alias``)
``alert_id``            the alert's stable id, or null (incident and test messages)
``channel``             the id of the channel this copy goes to
``node``                the daemon's node name (``[daemon] node``)
``services``            list of the services concerned, each
                        ``{id, name, tags, status, since, duration_s, cause, error}``:
                        ``since`` the episode start (RFC 3339), ``duration_s`` seconds down
                        so far, ``cause`` the error kind (``timeout``, ``http_error`` …),
                        ``error`` a short text; empty for messages about no service
``dependents``          services held behind this outage by ``depends_on``, each
                        ``{id, name, status}`` (empty when none)
``still_down``          on a grouped recovery: services of the group still down,
                        ``{id, name}`` each
``reminder``            the reminder's number (1, 2 …), 0 otherwise
``acknowledged_by``     who acknowledged the alert, or null
``incident``            null, or ``{id, title, status, severity, priority, message, author,
                        customer_visible}`` (``message`` is the update's markdown)
``certificate``         null, or ``{expires_at, days_left, threshold_days}``
``slo``                 null, or ``{alert, target, factor, long_window, short_window,
                        burn_rate_long, burn_rate_short, budget_runs_out_in,
                        budget_runs_out_in_s}``: ``alert`` is ``page`` or ``ticket``,
                        windows in words ("1 hour"), ``budget_runs_out_in`` in words
``test``                true for a test-send, false otherwise
======================  =====================================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

FIELD_NAMES: tuple[str, ...] = (
    "event",
    "action",
    "severity",
    "title",
    "text",
    "at",
    "key",
    "dedup_key",
    "alert_id",
    "channel",
    "node",
    "services",
    "dependents",
    "still_down",
    "reminder",
    "acknowledged_by",
    "incident",
    "certificate",
    "slo",
    "test",
)
"""Every field a notification carries (and a template may use), in documentation order."""


class TemplateProblem(ValueError):
    """A template cannot be compiled or rendered, or does not give JSON."""


def base_fields(**values: Any) -> dict[str, Any]:
    """A complete field dict: every documented field, empty unless given."""
    fields: dict[str, Any] = {
        "key": "",  # key, dedup_key, channel, node and alert_id are set per channel copy
        "dedup_key": "",
        "alert_id": None,
        "channel": "",
        "node": "",
        "services": [],
        "dependents": [],
        "still_down": [],
        "reminder": 0,
        "acknowledged_by": None,
        "incident": None,
        "certificate": None,
        "slo": None,
        "test": False,
    }
    fields.update(values)
    missing = [f for f in FIELD_NAMES if f not in fields]
    if missing:
        raise ValueError(f"notification fields missing: {missing}")
    return fields


SAMPLE_FIELDS: dict[str, Any] = base_fields(
    event="down",
    action="trigger",
    severity="critical",
    title="core-db down; 2 dependent services affected: api and web",
    text='core-db down since 02:00:00 UTC (timeout: "read timed out")\n'
    "Dependent services affected: api, web",
    at="2026-11-22T02:00:30+00:00",
    key="down|core-db|2026-11-22T02:00:00+00:00|trigger|ops",
    dedup_key="slamon-down-core-db-2026-11-22T02:00:00+00:00",
    alert_id="down|core-db|2026-11-22T02:00:00+00:00",
    channel="ops",
    node="eu-1",
    services=[
        {
            "id": "core-db",
            "name": "Core DB",
            "tags": ["db"],
            "status": "major_outage",
            "since": "2026-11-22T02:00:00+00:00",
            "duration_s": 30.0,
            "cause": "timeout",
            "error": "read timed out",
        }
    ],
    dependents=[
        {"id": "api", "name": "API", "status": "major_outage"},
        {"id": "web", "name": "Web", "status": "major_outage"},
    ],
)
"""Fields of a typical notification: templates are tried on these when the config loads."""


def _json_default(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()  # raises UndefinedError naming the field
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(value, default=_json_default, **kwargs)


_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_ENV.policies["json.dumps_function"] = _dumps


def check_template(source: str) -> None:
    """Compile ``source`` and render it over ``SAMPLE_FIELDS``; it must give a JSON value.

    Raises:
        TemplateProblem: with a sentence naming the problem (and line, when known).
    """
    render_json(source, SAMPLE_FIELDS)


def render_json(source: str, fields: Mapping[str, Any]) -> Any:
    """Render ``source`` over ``fields`` in the sandbox and parse the result as JSON.

    Raises:
        TemplateProblem: the template is invalid, uses an unknown field or an unsafe
            attribute, or does not render to JSON.
    """
    try:
        text = _ENV.from_string(source).render(**fields)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise TemplateProblem(f"template error{where}: {exc.message or exc}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateProblem(f"template error: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TemplateProblem(
            f"the template does not render to JSON ({exc.msg} at line {exc.lineno} column"
            f" {exc.colno}); write values with the tojson filter, e.g. {{{{ title | tojson }}}}"
        ) from None
