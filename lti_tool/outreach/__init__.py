"""The school leaders hearing staff and students: division of work, reception days, letters, proposals."""
