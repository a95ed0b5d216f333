"""Campaigns: a segment reached on a schedule by email, SMS or an agent's task, with consent, opt-out, a weekly cap
and a control group, and measured against it (docs/product.md, "Campaigns")."""
