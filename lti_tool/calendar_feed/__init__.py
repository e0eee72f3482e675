"""A person's calendar feed (issue 15 item 5): a secret ICS address their phone's or Moodle's calendar
subscribes to, with their reception weeks, the classes they planned to observe and their deadlines.

``models.py`` keeps one row per person holding the SHA-256 of their secret (never the secret itself),
``services.py`` issues, resets and resolves it and builds the feed from the domains' own services,
``views.py`` serves the page (in the session) and the feed (outside it: calendar clients send no cookie).
"""
