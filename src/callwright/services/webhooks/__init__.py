"""Webhooks: targets per agent, the seed-003 envelope, fan-out from the event outbox, and
signed delivery with retries (Standard Webhooks)."""
