"""Pacing reminders at the policy's checkpoints (e.g. ends of weeks 6, 12 and 16)."""
