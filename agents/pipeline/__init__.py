"""The sales pipeline (销售机会, 销售漏斗): stages, opportunities, activities, funnel, quotes and commission.

One module per capability: :mod:`.stages` (the stage settings), and beside it the opportunities, activities,
funnel, quotes and bancassurance attribution as they land.
"""
