"""Webhooks: every event of a session with a webhook_url, signed, retried and recorded.

listener (EventSink → queued delivery rows + `webhook-delivery` jobs) → dispatcher (the
queue's consumer; per-host lanes) → sender (one signed POST) → recorder (attempt outcomes and
webhook.* events, in batches). The sweeper re-publishes deliveries whose job was lost.
"""
