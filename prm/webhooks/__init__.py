"""Outbound webhooks: the events the apps emit (``events.emit``), written in
the change's own transaction, and delivered signed to the endpoints ops
register, with retries, a delivery log and SSRF checks."""
