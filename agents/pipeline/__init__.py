"""The sales pipeline (销售机会, 销售漏斗): a module per capability, with its schemas, pages (``*_views``) and API
(``*_routes``) beside it — stage settings (:mod:`.stages`), opportunities (:mod:`.opportunities`), activities and
agendas (:mod:`.activities`, :mod:`.calendar_export`), quotes and rate tables (:mod:`.quotes`), scorecards
(:mod:`.scorecards`), the referrers' view of a referral's progress (:mod:`.referral_progress`), and the daily jobs
of stale opportunities (:mod:`.stale`) and sales reports by email (:mod:`.sales_mail`).

Every module here is imported when the application starts (``insurecrm._package_modules``): one that declares
``WEB_BLUEPRINTS`` or ``API_BLUEPRINTS`` is registered, one that declares a daily job has it registered.
"""
