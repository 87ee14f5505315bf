"""Renderers: report data as text, workbooks, charts and posters.

Importing a renderer (``bot.render.report_text``) loads nothing else: the chat's /chart
and /export makers are plugged into the core's context by ``bot.render.attachments``,
which ``bot.services`` imports.
"""
