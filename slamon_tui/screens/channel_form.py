"""The admin's alert-channel form (issue 11): add one of a kind, edit one, or show one read-only.

One form per kind: the keys of its ``[[alert_channel]]`` (models/channel_kinds.py, as the
daemon's ``alerts/config.py`` defines them), then the routing and pacing every kind shares.
Fields are named after the channel's keys, so the daemon's problems (the error's ``fields``)
land under the right one. Only what the daemon cannot judge is checked here (a number typed
as text, a header without ":"); the rest is the daemon's to say.

Secrets (webhook URLs, tokens, keys, passwords, header values) only ever come back masked.
Editing, a secret's field starts empty with the masked value as its placeholder: left empty
it is not sent and the daemon keeps the stored value; typed, it replaces it; "none" removes
an optional one (headers, a token, a password). The whole channel is sent on each save
(``alert.channel_save`` replaces it), so a cleared field goes back to its default. Channels
the config file names open read-only: the file owns them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from slamon_tui.client import FeedCallError
from slamon_tui.models.channel_kinds import (
    CHOICES,
    DURATIONS,
    FLAGS,
    HIDDEN_WHILE_TYPED,
    KIND_NAMES,
    KIND_PLACEHOLDERS,
    KINDS,
    LABELS,
    LISTS,
    MASK,
    NUMBERS,
    OPTIONAL_SECRETS,
    REQUIRED,
    SECRETS,
    channel_keys,
    duration_text,
    parse_responders,
    responders_text,
)
from slamon_tui.screens.form_dialog import FormDialog
from slamon_tui.screens.service_form import config_text, duration_value, parse_headers, word_list
from slamon_tui.types import FeedCall
from slamon_tui.widgets.form_field import FormField
from slamon_tui.widgets.marked_checkbox import MarkedCheckbox


def form_words(problem: str) -> str:
    """A validation problem as a form says it."""
    if problem == "required key is missing":
        return "required"
    found = re.fullmatch(r"String should have at least (\d+) characters?", problem)
    if found:
        return f"at least {found[1]} characters"
    return problem.replace("Input should be ", "should be ")


def field_text(key: str, value: Any) -> str:
    """A channel's setting as typed in the form."""
    if key == "responders":
        return responders_text(value)
    if key == "reminder_every" and value == 0:
        return "off"
    if key in DURATIONS and isinstance(value, int | float):
        return duration_text(float(value))
    return config_text(key, value)


class ChannelDialog(FormDialog):
    """alert.channel_save of one kind: a new channel, or one the feed added (replaced whole).
    ``read_only``: only shown (a channel of the config file, or anyone's but an admin's)."""

    dense = True

    def __init__(
        self,
        call: FeedCall,
        kind: str,
        existing: dict[str, Any] | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        self.kind = kind
        self.existing = existing or {}
        self.editing = existing is not None
        self.read_only = read_only
        cid = self.existing.get("id")
        self.from_file = self.existing.get("source") == "config"
        if read_only:
            whose = "from the config file, " if self.from_file else ""
            title = f"Channel {cid} ({kind}) — {whose}read-only"
        elif self.editing:
            title = f"Edit channel {cid} ({kind})"
        else:
            title = f"New {KIND_NAMES.get(kind, kind)} channel"
        super().__init__(call, title)
        self.save_label = "Save" if self.editing else "Add channel"
        self.keys = channel_keys(kind)

    # --- fields ------------------------------------------------------------------------------

    def form_fields(self) -> Iterable[Widget]:
        """The kind's keys between identity and routing; a note on what is kept or owned."""
        if self.read_only:
            yield Static(
                "From the config file: change it there, then reload (slamon reload)."
                if self.from_file
                else "Admins change alert channels.",
                classes="form-note",
            )
        for key in self.keys:
            yield self._field(key)
        if self.editing and not self.read_only:
            yield Static(
                "Masked secrets stay as stored unless a new value is typed.",
                classes="form-note",
            )

    def _field(self, key: str) -> FormField:
        label, hint = LABELS[key]
        label += " *" if key in REQUIRED and not self.read_only else ""
        hint = KIND_PLACEHOLDERS.get((self.kind, key), hint)
        current = self.existing.get(key)
        locked = self.read_only or (key == "id" and self.editing)
        control: Widget
        if key in FLAGS:
            ticked = FLAGS[key] if current is None else bool(current)
            control = MarkedCheckbox("", ticked, compact=True, id=f"input-{key}", disabled=locked)
        elif key in CHOICES:
            options = CHOICES[key]
            value = str(current) if current in options else options[0]
            control = Select(
                [(o, o) for o in options],
                value=value,
                allow_blank=False,
                compact=True,
                id=f"input-{key}",
                disabled=locked,
            )
        elif key in SECRETS and self.editing:
            # Never the value: the daemon's masked text is the placeholder.
            shown = field_text(key, current) or "none"
            keep = "kept; type to replace" + (", none removes" if key in OPTIONAL_SECRETS else "")
            control = Input(
                "",
                placeholder=shown if self.read_only else f"{shown}  ({keep})",
                password=key in HIDDEN_WHILE_TYPED,
                compact=True,
                id=f"input-{key}",
                disabled=locked,
            )
        else:
            control = Input(
                field_text(key, current),
                placeholder="— (default)" if self.read_only else hint,
                password=key in HIDDEN_WHILE_TYPED,
                compact=True,
                id=f"input-{key}",
                disabled=locked,
            )
        return FormField(key, label, control)

    # --- saving ------------------------------------------------------------------------------

    def show_call_error(self, exc: FeedCallError) -> None:
        """The daemon's problems in a form's words ("required", not "required key is
        missing", which is written for the config file)."""
        for key, text in exc.fields.items():
            exc.fields[key] = form_words(text)
        super().show_call_error(exc)

    async def save(self) -> Any:
        """Send the whole channel; secrets left empty while editing are not sent (kept)."""
        return await self._call("alert.channel_save", {"channel": self.channel()})

    def channel(self) -> dict[str, Any]:
        """The channel as the form holds it (FormInvalid for what is wrong here)."""
        out: dict[str, Any] = {"id": self.value("id"), "type": self.kind}
        for key in self.keys:
            if key == "id":
                continue
            value = self.value(key)
            if key in FLAGS or key in CHOICES:
                out[key] = bool(value) if key in FLAGS else value
                continue
            if key == "subject_prefix":  # its trailing space counts
                value = self.field(key).control.value  # type: ignore[attr-defined]
            text = str(value or "")
            if not text:
                continue  # the default; a secret while editing: kept as stored
            if key in SECRETS and MASK in text:
                raise self.problem(key, "type the whole value (the stored one stays hidden)")
            if key in OPTIONAL_SECRETS and self.editing and text == "none":
                out[key] = {} if key == "headers" else None  # removed
                continue
            out[key] = self._converted(key, text)
        return out

    def _converted(self, key: str, text: str) -> Any:
        if key in LISTS:
            return word_list(text)
        if key in DURATIONS:
            return text if text == "off" else duration_value(text)
        if key in NUMBERS:
            if not text.isdigit():
                raise self.problem(key, "a whole number")
            return int(text)
        try:
            if key == "headers":
                return parse_headers(text)
            if key == "responders":
                return parse_responders(text)
        except ValueError as exc:
            raise self.problem(key, str(exc)) from None
        return text


class ChannelKindDialog(ModalScreen[str | None]):
    """Which kind of channel to add: ↑/↓ and Enter, Esc cancels. Dismissed with the kind."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", key_display="Esc")]

    def compose(self) -> ComposeResult:
        """The kinds, one line each."""
        with Vertical(classes="form-box kind-box") as box:
            box.border_title = "Add an alert channel: which kind?"
            box.border_subtitle = "↑/↓ · Enter picks · Esc cancels"
            yield OptionList(
                *(Option(f"{kind:<12} {what}", id=kind) for kind, what in KINDS.items()),
                id="kind-list",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a kind."""
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Close without a kind."""
        self.dismiss(None)
