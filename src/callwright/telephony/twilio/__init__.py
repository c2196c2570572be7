"""Twilio: the REST API (place, hang up, redirect calls), TwiML, and request signatures."""
