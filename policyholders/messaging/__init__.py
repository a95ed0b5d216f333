"""Messaging with policyholders beyond the outbox: consent and opt-out, inbound SMS and email.

- :mod:`.consent`: the unsubscribe links of emails and the opt-out keyword of SMS, withdrawing a channel's consent
  (audited, on the timeline, and checked again by the outbox sender before each message goes);
- :mod:`.outbox_rules`: what this domain adds to the outbox sender (consent checked at send time, the opt-out
  footer, each message sent recorded on the policyholder's timeline);
- :mod:`.inbound`: inbound SMS and email matched to one policyholder by phone or address, onto their timeline with
  a task for their agent; unmatched or ambiguous ones wait on a page for a manager;
- :mod:`.routes` (the gateways' webhooks, signed) and :mod:`.views` (the public unsubscribe page, the unmatched list).

See docs/product.md ("Consent, opt-out and inbound messages") and docs/deployment.md ("Inbound webhooks").
"""
