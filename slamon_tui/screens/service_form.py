"""The admin's add/edit-service form: every setting a ``[[service]]`` of slamon.toml takes
(issue 12), the daemon's problem shown under each field, and a question before changes are
thrown away.

Fields are named after the feed parameter they fill (``url``, ``headers`` …), so the
daemon's per-field errors (``headers.Authorization: …``) land next to the right one. Only
what the daemon cannot judge is checked here (a number typed as text, a header without
":"). Headers come back from the daemon masked ("***"): left alone they are not sent, and
retyped they replace the old ones. Settings the daemon reports that this form does not know
(added by a newer daemon, e.g. ``depends_on``) get a plain text field each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from textual.widget import Widget
from textual.widgets import Input, Select

from slamon_tui.screens.form_dialog import FormDialog, FormInvalid
from slamon_tui.types import FeedCall
from slamon_tui.widgets.form_field import FormField
from slamon_tui.widgets.marked_checkbox import MarkedCheckbox

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

SERVICE_FIELDS: list[tuple[str, str, str]] = [
    # key, label, hint (the placeholder); the order of the form (most used first: at 80×24
    # the first ones show without scrolling)
    ("id", "Id", "kebab-case, stable: e.g. face-compare"),
    ("name", "Name", "shown on the dashboard (default: the id)"),
    ("url", "URL", "http:// or https://"),
    ("method", "Method", ""),
    ("interval", "Interval", "e.g. 60s, 5m (default 60s)"),
    ("timeout", "Timeout", "e.g. 7s (default 10s)"),
    ("expect_status", "Expect status", "codes and ranges: 200, 301-302 (default 200-299)"),
    ("degraded_after", "Degraded after", "slower than this is degraded, e.g. 3s"),
    ("confirm_failures", "Confirm failures", "failed checks in a row before down (default 2)"),
    ("body_contains", "Body contains", "optional text the answer must contain"),
    ("body_regex", "Body regex", "optional regular expression the body must match"),
    ("json_path", "JSON path", "e.g. $.status == 'UP'"),
    ("follow_redirects", "Follow redirects", ""),
    ("headers", "Headers", "Name: value; Other: value (values are never shown back)"),
    ("body", "Request body", "sent with POST/PUT/PATCH"),
    ("verify_tls", "Verify TLS", ""),
    ("ca_file", "CA file", "PEM file of a private CA (path on the daemon's host)"),
    ("sla_target", "SLA target %", "e.g. 99.95 (default: the daemon's)"),
    ("latency_objective_under", "Latency under", "objective: answers under e.g. 1000ms …"),
    ("latency_objective_percent", "… for at least %", "… for this share of them, e.g. 95"),
    ("group", "Group", "dashboard section, e.g. Payments"),
    ("tags", "Tags", "comma-separated, e.g. eu, public"),
    ("public", "On the status page", ""),  # issue 13: off keeps it off every public route
    ("depends_on", "Depends on", "service ids, comma-separated: its alerts wait while one is down"),
    ("alert_severity", "Alert severity", "info, warning or critical (default critical)"),
    ("alert_channels", "Alert channels", "channel ids, comma-separated (default: routing)"),
    ("regions", "Regions", "cluster: regions that probe it, e.g. eu, us (default: all)"),
    ("quorum", "Quorum", "cluster: regions that must confirm an outage (default: majority)"),
]
FLAGS = {"follow_redirects": False, "verify_tls": True, "public": True}
"""The settings that are checkboxes, with their defaults."""
DURATIONS = ("interval", "timeout", "degraded_after", "latency_objective_under")
NUMBERS = ("sla_target", "latency_objective_percent")
LISTS = ("tags", "depends_on", "alert_channels", "regions")
HIDDEN_HEADER = "***"


def duration_value(text: str) -> Any:
    """A number of seconds as a number, anything else ("60s") as the daemon parses it."""
    try:
        return float(text)
    except ValueError:
        return text


def status_list(text: str) -> list[Any]:
    """ "200, 301-302" → [200, "301-302"]."""
    items = [x for x in re.split(r"[,\s]+", text) if x]
    return [int(x) if x.isdigit() else x for x in items]


def word_list(text: str) -> list[str]:
    """ "eu, public" → ["eu", "public"]."""
    return [x for x in re.split(r"[,\s]+", text) if x]


def parse_headers(text: str) -> dict[str, str]:
    """ "Authorization: Bearer x; X-Env: prod" → a dict (ValueError names a bad one)."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, sep, value = part.partition(":")
        if not sep or not name.strip():
            raise ValueError(f'"{part}" is not "Name: value"')
        out[name.strip()] = value.strip()
    return out


def config_text(key: str, value: Any) -> str:
    """A stored setting as typed in the form (durations in seconds as "60s")."""
    if value is None:
        return ""
    if key in DURATIONS and isinstance(value, int | float):
        return f"{value:g}s"
    if key == "headers" and isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(x) for x in value)
    return str(value)


class ServiceDialog(FormDialog):
    """service.add, or service.edit of a service added over the feed (only what changed).

    ``extra_fields`` are settings the daemon knows that SERVICE_FIELDS does not (e.g.
    ``depends_on`` where alerts exist): each gets a text field, sent as the daemon takes a
    list when it was one.
    """

    dense = True

    def __init__(
        self,
        call: FeedCall,
        existing: dict[str, Any] | None = None,
        extra_fields: Sequence[str] = (),
    ) -> None:
        self.existing = existing
        title = f"Edit service {existing.get('id')}" if existing else "Add a service"
        super().__init__(call, title)
        self.save_label = "Save" if existing else "Add service"
        known = {k for k, _l, _h in SERVICE_FIELDS}
        extras = [k for k in extra_fields if k not in known]
        extras += [k for k in (existing or {}) if k not in known and k not in extras]
        self.extras = [k for k in extras if k not in ("active", "source")]
        self.fields = [
            *SERVICE_FIELDS,
            *((k, k.replace("_", " ").capitalize(), "") for k in self.extras),
        ]
        self.initial = {k: config_text(k, (existing or {}).get(k)) for k, _l, _h in self.fields}

    def form_fields(self) -> Iterable[Widget]:
        """Every setting of a ``[[service]]``, in the order of SERVICE_FIELDS."""
        for key, label, hint in self.fields:
            if key == "method":
                control: Select[str] = Select(
                    [(m, m) for m in METHODS],
                    value=self.initial["method"] or "GET",
                    allow_blank=False,
                    compact=True,
                    id="input-method",
                )
                yield FormField("method", label, control)
            elif key in FLAGS:
                current = (self.existing or {}).get(key)
                ticked = FLAGS[key] if current is None else bool(current)
                box = MarkedCheckbox("", ticked, compact=True, id=f"input-{key}")
                yield FormField(key, label, box)
            else:
                yield FormField(
                    key,
                    label,
                    Input(
                        self.initial[key],
                        placeholder=hint,
                        compact=True,
                        id=f"input-{key}",
                        disabled=key == "id" and self.existing is not None,
                    ),
                )

    def initial_value(self, key: str) -> Any:
        """What a field held when the form opened (its changes are what is sent)."""
        if key in FLAGS:
            current = (self.existing or {}).get(key)
            return FLAGS[key] if current is None else bool(current)
        if key == "method":
            return self.initial["method"] or "GET"
        return self.initial[key]

    async def save(self) -> Any:
        """Add the service, or send the settings that changed."""
        params: dict[str, Any] = {}
        for key, _label, _hint in self.fields:
            value = self.value(key)
            if self.existing is not None and value == self.initial_value(key):
                continue
            if key in FLAGS:
                if self.existing is not None or value != FLAGS[key]:
                    params[key] = bool(value)
                continue
            text = str(value or "")
            if key == "method":
                if self.existing is not None or text != "GET":
                    params[key] = text
                continue
            if not text:
                if self.existing is not None and key != "id":
                    params[key] = None  # cleared: back to the default
                continue
            params[key] = self._converted(key, text)
        if self.existing is None:
            params.setdefault("method", "GET")
            return await self._call("service.add", params)
        if not params:
            self.show_general("nothing changed")
            raise FormInvalid("nothing changed")
        return await self._call("service.edit", {"id": self.existing["id"], **params})

    def _converted(self, key: str, text: str) -> Any:
        if key in DURATIONS:
            return duration_value(text)
        if key == "expect_status":
            return status_list(text)
        if key in LISTS or (key in self.extras and isinstance(self._was(key), list)):
            return word_list(text)
        if key == "headers":
            if HIDDEN_HEADER in text:
                raise self.problem(key, "retype the values shown as *** (they are hidden)")
            try:
                return parse_headers(text)
            except ValueError as exc:
                raise self.problem(key, str(exc)) from None
        if key == "confirm_failures":
            if not text.isdigit():
                raise self.problem(key, "a whole number from 1 to 100")
            return int(text)
        if key == "quorum":
            if not text.isdigit() or int(text) < 1:
                raise self.problem(key, "a whole number of regions, at least 1")
            return int(text)
        if key in NUMBERS:
            try:
                return float(text.rstrip("%"))
            except ValueError:
                raise self.problem(key, "a number like 99.9") from None
        return text

    def _was(self, key: str) -> Any:
        return (self.existing or {}).get(key)
