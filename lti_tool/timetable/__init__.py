"""Timetable: semesters, periods, courses, sections and the concrete class sessions they expand to."""
