"""The landing pages: each persona's home, persona switching, language switching."""
