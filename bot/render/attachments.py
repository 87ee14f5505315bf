"""The chat's /chart and /export makers, plugged into the core's context when this module
is imported (``bot.services`` does); they draw lazily (matplotlib and openpyxl load on
first use). Kept out of ``bot/render/__init__.py`` so that a command printing a report as
text does not load the core's context with it.
"""

from bot.core.context import ATTACHMENTS


async def _chart(*args):
    from bot.render import charts

    return await charts.chart_attachment(*args)


async def _workbook(*args):
    from bot.render import workbook

    return await workbook.workbook_attachment(*args)


ATTACHMENTS.update(chart=_chart, workbook=_workbook)
