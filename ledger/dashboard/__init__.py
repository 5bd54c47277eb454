"""The dashboard's HTML: templates, charts drawn as SVG, and the message timeline.

Pure rendering over the ledger's query results (no web framework here): the receiver's
pages (:mod:`ledger.http.dashboard`) and ``ledger report --html`` both use it.  Needs the
``cli`` extra (Jinja2).
"""
