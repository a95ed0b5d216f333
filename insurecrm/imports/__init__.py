"""Imports: a book brought in from CSV and XLSX files — checked first (a dry run with a row-by-row report), then
imported all or nothing, again without changing anything (upsert by natural keys).

- :mod:`.reading` reads a file as a stream of rows (encodings, CSV dialects, workbooks);
- :mod:`.values` reads the cells as people type them in either language (dates, amounts, yes/no, choices);
- :mod:`.kinds` says what a kind of import is; the domains declare theirs (``policyholders/imports.py``,
  ``policies/imports.py``) and write each row through their own services;
- :mod:`.engine` does the runs (in the request, a worker thread, or any host's scheduler);
- the pages (:mod:`.views`), the API (:mod:`.routes`) and the command ``insurecrm import`` (:mod:`.cli`).
"""
