"""Renderers: report data as text, workbooks, charts and posters.

The chat's /chart and /export replies are built here; this package plugs its makers into
the core's context when imported, drawing lazily (matplotlib and openpyxl load on first use).
"""

from bot.core.context import ATTACHMENTS


async def _chart(*args):
    from bot.render import charts

    return await charts.chart_attachment(*args)


async def _workbook(*args):
    from bot.render import workbook

    return await workbook.workbook_attachment(*args)


ATTACHMENTS.update(chart=_chart, workbook=_workbook)
