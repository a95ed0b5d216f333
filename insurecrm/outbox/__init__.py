"""The outbox: delivering the email and SMS that jobs queue, worded by templates admins edit.

- :mod:`.sender`: ``send_pending(limit)``, the sender and its at-most-once rule (read its docstring);
- :mod:`.gateways`: SMTP, and the logging and HTTP SMS gateways;
- :mod:`.rendering`: templates rendered in a Jinja2 sandbox with the row's payload, and their fallbacks;
- :mod:`.templates`, :mod:`.defaults`, :mod:`.models`: the templates, their built-in wording and their table.

See ``docs/outbox.md``.
"""
