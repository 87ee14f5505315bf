"""Deadlines, recurrence, working days and holidays, reminder planning and dispatch.

APScheduler only drives the clock; the database rows are the truth.
"""
