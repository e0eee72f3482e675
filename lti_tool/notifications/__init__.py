"""Notifications: one call for every domain, delivered by the worker through each institution's channels.

``NotificationService.notify(event, person_ids, params)`` (services.py) renders the event's message in
each person's language, keeps their per-event, per-channel choices, and writes one outbox row per person
and channel in the caller's transaction; the rows are queued after that transaction commits and the worker
delivers them with retries (delivery.py). docs/decisions.md N-1 … N-4.
"""
