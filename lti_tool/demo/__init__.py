"""The demo college: ``tingke demo`` builds a realistic institution so a first launch shows a living system.

The roster and timetable are generated as CSV files and loaded through the real importers (so the demo
also exercises, and shows examples of, every import format); the semester's records are then generated
with the invariants of the observation domain. Everything is driven by one seeded RNG, so the same seed
gives the same college.
"""
