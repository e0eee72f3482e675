"""Problem handling: problems raised in records and patrols, routed to the responsible unit (O-9, O-14)."""
